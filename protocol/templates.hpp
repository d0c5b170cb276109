// Job templates (console_save_template) and the job objects that templates
// and schedules keep: `{command, args, options}` as console_execute_async
// takes them. A template's {{p}} placeholders are replaced in args,
// environment values and the working directory, each as a literal part of
// that one value: never through a shell, never split into more arguments.
#pragma once

#include "protocol/mcp_session.hpp"
#include "protocol/model.hpp"

#include <string_view>

namespace jobd::protocol {

class tool_catalog;

/// Parses `job_json` (an object with `command`, `args`, `options`) exactly
/// as console_execute_async's arguments; on failure `err` names the field.
bool parse_job_object(const tool_catalog& catalog, std::string_view job_json,
                      job_spec& out, tool_error& err);

/// Checks a template before it is saved: its job parses (placeholders
/// standing for their defaults, or a sample value), every placeholder names
/// a parameter, every default matches its pattern, every pattern compiles.
bool check_template(const tool_catalog& catalog, const job_template& tpl,
                    tool_error& err);

/// The job of `tpl` with `call.params` (and the defaults of the parameters
/// not given) substituted, `call.options` over the template's options (the
/// call's keys win), parsed as console_execute_async; `out.template_name`
/// is set. Unknown parameters, missing required ones and values that do
/// not match their pattern answer INVALID_ARGUMENTS naming the parameter.
bool instantiate(const tool_catalog& catalog, const job_template& tpl,
                 const template_call& call, job_spec& out, tool_error& err);

} // namespace jobd::protocol
