// MCP resources: every job is `job://{jobId}` (its status as JSON) and
// `job://{jobId}/output` (its latest output as text).
#pragma once

#include "protocol/model.hpp"

#include <string>
#include <string_view>

namespace jobd::protocol {

/// How many jobs one `resources/list` page holds (two resources each).
inline constexpr uint64_t resource_page_jobs = 50;

/// Most output text one `resources/read` of `job://{id}/output` returns
/// (the newest output).
inline constexpr uint64_t resource_output_bytes = 256 * 1024;

/// Splits `job://{jobId}` or `job://{jobId}/output`; false for anything else.
bool parse_job_uri(std::string_view uri, std::string& job_id, bool& output);

std::string status_uri(std::string_view job_id);
std::string output_uri(std::string_view job_id);

/// The `resources/templates/list` result.
const std::string& resource_templates_result();

/// The reply to `resources/list`: both resources of each job in the page.
std::string render_resource_list(std::string_view id, const list_page& page);

/// The reply to `resources/read` of `job://{id}`.
std::string render_resource_status(std::string_view id, std::string_view uri,
                                   const job_info& job);

/// The reply to `resources/read` of `job://{id}/output`.
std::string render_resource_output(std::string_view id, std::string_view uri,
                                   const output_page& page);

/// `notifications/resources/updated` for `uri`.
std::string render_resource_updated(std::string_view uri);

/// `notifications/resources/list_changed`.
std::string render_resource_list_changed();

} // namespace jobd::protocol
