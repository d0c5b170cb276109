// What Slurm's commands print, read: sbatch's id, squeue lines, scontrol's
// key=value line; Slurm states as jobd statuses; the status's `slurm`.
#include "protocol/slurm.hpp"

#include "protocol/json.hpp"

#include <cstdlib>

namespace jobd::slurm {

namespace {

std::string_view trim_view(std::string_view text) {
  while (!text.empty()
         && (text.front() == ' ' || text.front() == '\n' || text.front() == '\r'
             || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty()
         && (text.back() == ' ' || text.back() == '\n' || text.back() == '\r'
             || text.back() == '\t'))
    text.remove_suffix(1);
  return text;
}

// "(null)" and "None" mean nothing to an agent.
std::string nothing_if_null(std::string_view text) {
  if (text == "(null)" || text == "None" || text == "N/A")
    return {};
  return std::string{text};
}

// Slurm ids: digits, optionally _N (array task) or +N (het job).
bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 32)
    return false;
  for (char c : id)
    if (!(c >= '0' && c <= '9') && c != '_' && c != '+')
      return false;
  return id.front() >= '0' && id.front() <= '9';
}

bool parse_int32(std::string_view text, int32_t& out) {
  if (text.empty() || text.size() > 9)
    return false;
  int32_t x = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return false;
    x = x * 10 + (c - '0');
  }
  out = x;
  return true;
}

} // namespace

bool parse_job_id(std::string_view output, std::string& id) {
  auto text = trim_view(output);
  // The last line: sbatch may warn before it.
  if (auto nl = text.rfind('\n'); nl != std::string_view::npos)
    text = trim_view(text.substr(nl + 1));
  text = text.substr(0, text.find(';'));
  if (!valid_id(text))
    return false;
  id = std::string{text};
  return true;
}

std::vector<queue_entry> parse_queue(std::string_view output) {
  std::vector<queue_entry> out;
  while (!output.empty()) {
    auto nl = output.find('\n');
    auto line = trim_view(output.substr(0, nl));
    output.remove_prefix(nl == std::string_view::npos ? output.size() : nl + 1);
    std::vector<std::string_view> fields;
    while (true) {
      auto bar = line.find('|');
      fields.push_back(line.substr(0, bar));
      if (bar == std::string_view::npos)
        break;
      line.remove_prefix(bar + 1);
    }
    if (fields.size() != 5 || !valid_id(fields[0]) || fields[1].empty())
      continue;
    out.push_back(queue_entry{std::string{fields[0]}, std::string{fields[1]},
                              nothing_if_null(fields[2]),
                              nothing_if_null(fields[3]),
                              nothing_if_null(fields[4])});
  }
  return out;
}

bool parse_details(std::string_view output, job_details& out) {
  out = job_details{};
  // Tokens are KEY=VALUE separated by spaces; a token without '=' belongs
  // to the value before it (values such as Command may hold spaces).
  std::map<std::string, std::string, std::less<>> fields;
  std::string* last = nullptr;
  auto text = trim_view(output);
  while (!text.empty()) {
    auto sp = text.find(' ');
    auto token = text.substr(0, sp);
    text.remove_prefix(sp == std::string_view::npos ? text.size() : sp + 1);
    if (token.empty())
      continue;
    auto eq = token.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      if (last != nullptr)
        *last += " " + std::string{token};
      continue;
    }
    auto& value = fields[std::string{token.substr(0, eq)}];
    value = std::string{token.substr(eq + 1)};
    last = &value;
  }
  auto get = [&](std::string_view key) -> std::string {
    auto i = fields.find(key);
    return i == fields.end() ? std::string{} : i->second;
  };
  out.job_id = get("JobId");
  out.state = get("JobState");
  if (!valid_id(out.job_id) || out.state.empty())
    return false;
  out.reason = nothing_if_null(get("Reason"));
  out.nodes = nothing_if_null(get("NodeList"));
  out.partition = nothing_if_null(get("Partition"));
  auto exit = get("ExitCode");
  if (auto colon = exit.find(':'); colon != std::string::npos)
    out.has_exit = parse_int32(exit.substr(0, colon), out.exit_code)
                   && parse_int32(exit.substr(colon + 1), out.signal);
  return true;
}

state_mapping map_state(std::string_view state) {
  // squeue may add a suffix (`CANCELLED+`, `CANCELLED by 0`).
  state = state.substr(0, state.find_first_of(" +"));
  auto ended = [](job_status s, std::string code = {}) {
    return state_mapping{s, true, std::move(code)};
  };
  if (state == "PENDING" || state == "REQUEUED" || state == "REQUEUE_HOLD"
      || state == "REQUEUE_FED" || state == "RESV_DEL_HOLD")
    return {job_status::pending, false, {}};
  if (state == "COMPLETED")
    return ended(job_status::completed);
  if (state == "FAILED" || state == "SPECIAL_EXIT")
    return ended(job_status::failed);
  if (state == "NODE_FAIL")
    return ended(job_status::failed, slurm_codes::node_fail);
  if (state == "BOOT_FAIL")
    return ended(job_status::failed, slurm_codes::boot_fail);
  if (state == "OUT_OF_MEMORY")
    return ended(job_status::failed, slurm_codes::out_of_memory);
  if (state == "TIMEOUT")
    return ended(job_status::failed, codes::timeout);
  if (state == "DEADLINE")
    return ended(job_status::failed, slurm_codes::deadline);
  if (state == "PREEMPTED")
    return ended(job_status::failed, slurm_codes::preempted);
  if (state == "CANCELLED" || state == "REVOKED")
    return ended(job_status::cancelled, codes::cancelled);
  // RUNNING, COMPLETING, CONFIGURING, SUSPENDED, STOPPED, SIGNALING,
  // RESIZING, STAGE_OUT: Slurm is not done with it.
  return {job_status::running, false, {}};
}

int32_t wait_status(int32_t exit_code, int32_t signal) {
  if (signal > 0)
    return signal & 0x7f;
  return (exit_code & 0xff) << 8;
}

std::string render_view(const job_view& view) {
  rapidjson::StringBuffer buf;
  protocol::json_writer w{buf};
  w.StartObject();
  auto put = [&](const char* key, const std::string& value) {
    protocol::write_key(w, key);
    if (value.empty())
      w.Null();
    else
      protocol::write_string(w, value);
  };
  put("jobId", view.job_id);
  put("state", view.state);
  put("reason", view.reason);
  put("nodes", view.nodes);
  put("partition", view.partition);
  protocol::write_key(w, "reachable");
  w.Bool(view.reachable);
  w.EndObject();
  return std::string{protocol::view(buf)};
}

bool parse_view(std::string_view json_text, job_view& out) {
  rapidjson::Document doc;
  doc.Parse(json_text.data(), json_text.size());
  if (doc.HasParseError() || !doc.IsObject())
    return false;
  auto get = [&](const char* key, std::string& into) {
    auto i = doc.FindMember(key);
    if (i != doc.MemberEnd() && i->value.IsString())
      into.assign(i->value.GetString(), i->value.GetStringLength());
  };
  out = job_view{};
  get("jobId", out.job_id);
  get("state", out.state);
  get("reason", out.reason);
  get("nodes", out.nodes);
  get("partition", out.partition);
  return true;
}

bool queued(const job_view& view) {
  return view.job_id.empty()
         || map_state(view.state).status == job_status::pending;
}

} // namespace jobd::slurm
