#include "protocol/resources.hpp"

#include "protocol/json.hpp"
#include "protocol/jsonrpc.hpp"
#include "protocol/mcp_session.hpp"
#include "protocol/render.hpp"

namespace jobd::protocol {

namespace {

constexpr std::string_view scheme = "job://";
constexpr std::string_view output_suffix = "/output";

void write_resource(json_writer& w, const std::string& uri,
                    const std::string& name, const std::string& description,
                    const char* mime) {
  w.StartObject();
  write_key(w, "uri");
  write_string(w, uri);
  write_key(w, "name");
  write_string(w, name);
  write_key(w, "description");
  write_string(w, description);
  write_key(w, "mimeType");
  w.String(mime);
  w.EndObject();
}

std::string command_line(const job_info& job) {
  std::string text = job.command;
  for (auto& arg : job.args) {
    text += ' ';
    text += arg;
  }
  return shorten(text, 200);
}

std::string contents_reply(std::string_view id, std::string_view uri,
                           const char* mime, std::string_view text) {
  rapidjson::StringBuffer sb;
  json_writer w(sb);
  w.StartObject();
  write_key(w, "contents");
  w.StartArray();
  w.StartObject();
  write_key(w, "uri");
  write_string(w, uri);
  write_key(w, "mimeType");
  w.String(mime);
  write_key(w, "text");
  write_string(w, text);
  w.EndObject();
  w.EndArray();
  w.EndObject();
  return rpc_result(id, view(sb));
}

} // namespace

bool parse_job_uri(std::string_view uri, std::string& job_id, bool& output) {
  if (uri.substr(0, scheme.size()) != scheme)
    return false;
  auto rest = uri.substr(scheme.size());
  output = rest.size() > output_suffix.size()
           && rest.substr(rest.size() - output_suffix.size()) == output_suffix;
  if (output)
    rest.remove_suffix(output_suffix.size());
  if (rest.empty() || rest.find('/') != std::string_view::npos)
    return false;
  job_id.assign(rest.data(), rest.size());
  return true;
}

std::string status_uri(std::string_view job_id) {
  return std::string{scheme}.append(job_id);
}

std::string output_uri(std::string_view job_id) {
  return status_uri(job_id).append(output_suffix);
}

const std::string& resource_templates_result() {
  static const std::string result
    = R"({"resourceTemplates":[)"
      R"({"uriTemplate":"job://{jobId}","name":"job","title":"Job status",)"
      R"("description":"A background job's status and metadata as JSON (the )"
      R"(result of console_get_job_status).","mimeType":"application/json"},)"
      R"({"uriTemplate":"job://{jobId}/output","name":"job-output",)"
      R"("title":"Job output","description":"A background job's newest )"
      R"(output (stdout and stderr interleaved, at most 256 KiB) as text.",)"
      R"("mimeType":"text/plain"}]})";
  return result;
}

std::string render_resource_list(std::string_view id, const list_page& page) {
  rapidjson::StringBuffer sb;
  json_writer w(sb);
  w.StartObject();
  write_key(w, "resources");
  w.StartArray();
  for (auto& job : page.jobs) {
    auto what = command_line(job);
    write_resource(w, status_uri(job.id), job.id,
                   std::string{"Status of `"} + what + "` ("
                     + to_string(job.status) + ")",
                   "application/json");
    write_resource(w, output_uri(job.id), job.id + " output",
                   "Output of `" + what + "`", "text/plain");
  }
  w.EndArray();
  if (!page.next_cursor.empty()) {
    write_key(w, "nextCursor");
    write_string(w, page.next_cursor);
  }
  w.EndObject();
  return rpc_result(id, view(sb));
}

std::string render_resource_status(std::string_view id, std::string_view uri,
                                   const job_info& job) {
  return contents_reply(id, uri, "application/json",
                        structured_json(tool_result{job}));
}

std::string render_resource_output(std::string_view id, std::string_view uri,
                                   const output_page& page) {
  std::string text;
  for (auto& chunk : page.chunks)
    text += chunk.content;
  return contents_reply(id, uri, "text/plain", text);
}

std::string render_resource_updated(std::string_view uri) {
  rapidjson::StringBuffer sb;
  json_writer w(sb);
  w.StartObject();
  write_key(w, "uri");
  write_string(w, uri);
  w.EndObject();
  return rpc_notification("notifications/resources/updated", view(sb));
}

std::string render_resource_list_changed() {
  return rpc_notification("notifications/resources/list_changed", {});
}

} // namespace jobd::protocol
