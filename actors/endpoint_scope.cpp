// ENDPOINT's part in isolating principals (config.scoped; docs/http.md):
// the client's session ids live in its principal's namespace ("alice/build"),
// and a non-admin sees and controls only the jobs of that namespace: a job
// of another principal answers what an unknown job answers.
#include "actors/endpoint.hpp"

#include "protocol/json.hpp"

#include <caf/event_based_actor.hpp>

#include <algorithm>
#include <variant>

namespace jobd {

using self_ptr = endpoint_ptr;

namespace {

// A session id the client gave, in its namespace. An admin's filter that
// already names a namespace ("bob/build") is taken as it is, so that an
// admin can look at another principal's session.
void scope_session(self_ptr self, std::string& session, bool filter) {
  auto& cfg = self->state.config;
  if (filter && cfg.admin && session.find('/') != std::string::npos)
    return;
  session = protocol::scoped_session(cfg.principal, session);
}

// A list or cleanup query: its session filter in the namespace, and a
// non-admin's restricted to the namespace.
template <class Query> void scope_query(self_ptr self, Query& q) {
  auto& cfg = self->state.config;
  if (!q.session_id.empty())
    scope_session(self, q.session_id, true);
  if (!cfg.admin)
    q.session_prefix = protocol::session_prefix(cfg.principal);
}

// A schedule's job (the JSON text of console_execute_async's arguments):
// its options.sessionId ("default" when missing) in the namespace, so that
// its firings' jobs are the principal's.
void scope_schedule_job(self_ptr self, std::string& job) {
  rapidjson::Document doc;
  doc.Parse(job.data(), job.size());
  if (doc.HasParseError() || !doc.IsObject())
    return; // checked when the schedule was made: not the case
  auto& alloc = doc.GetAllocator();
  auto options = doc.FindMember("options");
  if (options == doc.MemberEnd()) {
    doc.AddMember("options", rapidjson::Value{rapidjson::kObjectType}, alloc);
    options = doc.FindMember("options");
  }
  if (!options->value.IsObject())
    return;
  auto& opts = options->value;
  std::string session = "default";
  auto given = opts.FindMember("sessionId");
  if (given != opts.MemberEnd() && given->value.IsString())
    session = std::string{protocol::str(given->value)};
  scope_session(self, session, false);
  rapidjson::Value value{
    session.data(), static_cast<rapidjson::SizeType>(session.size()), alloc};
  if (given != opts.MemberEnd())
    given->value = std::move(value);
  else
    opts.AddMember("sessionId", std::move(value), alloc);
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w{sb};
  doc.Accept(w);
  job.assign(sb.GetString(), sb.GetSize());
}

struct scope_visitor {
  self_ptr self;
  void operator()(schedule_spec& x) {
    scope_schedule_job(self, x.job);
  }
  void operator()(schedule_update& x) {
    if (x.has_job)
      scope_schedule_job(self, x.values.job);
  }
  void operator()(list_query& q) {
    scope_query(self, q);
  }
  void operator()(cleanup_query& q) {
    scope_query(self, q);
  }
  // A job (console_execute_async, a template's) is scoped when it is
  // submitted (submit_job); the other requests carry no session id.
  template <class T> void operator()(T&) {
    // nop
  }
};

struct named_visitor {
  std::vector<std::string>& out;
  void operator()(const std::string& job_id) {
    out.push_back(job_id);
  }
  void operator()(const protocol::output_call& x) {
    out.push_back(x.job_id);
  }
  void operator()(const protocol::cancel_call& x) {
    out.push_back(x.job_id);
  }
  void operator()(const wait_query& x) {
    out.push_back(x.job_id);
  }
  void operator()(const wait_many_query& x) {
    out.insert(out.end(), x.job_ids.begin(), x.job_ids.end());
  }
  void operator()(const input_request& x) {
    out.push_back(x.job_id);
  }
  void operator()(const signal_request& x) {
    out.push_back(x.job_id);
  }
  void operator()(const pause_request& x) {
    out.push_back(x.job_id);
  }
  void operator()(const resize_request& x) {
    out.push_back(x.job_id);
  }
  void operator()(const restart_request& x) {
    out.push_back(x.job_id);
  }
  template <class T> void operator()(const T&) {
    // nop: no job id (dependsOn is checked at submit)
  }
};

} // namespace

bool in_namespace(self_ptr self, std::string_view session) {
  auto& cfg = self->state.config;
  if (!cfg.scoped || cfg.admin)
    return true;
  // principal_of counts a session without a namespace (a job made while
  // only stdio was served) as "local"'s.
  return !session.empty() && protocol::principal_of(session) == cfg.principal;
}

void scope_spec(self_ptr self, job_spec& spec) {
  scope_session(self, spec.session_id, false);
}

void scope_request(self_ptr self, protocol::tool_request& request) {
  std::visit(scope_visitor{self}, request);
}

std::vector<std::string> named_jobs(const protocol::tool_request& request) {
  std::vector<std::string> out;
  std::visit(named_visitor{out}, request);
  return out;
}

caf::error unknown_job(const std::string& id) {
  // As the STORE answers for an id nobody has (actors/store/store_actor.cpp).
  return make_tool_error(codes::job_not_found, "Job not found: " + id,
                         {{"jobId", json_quote(id)}});
}

caf::error unknown_dependency(const std::string& id) {
  // As SCHEDULER answers (actors/scheduler_workflow.cpp).
  return make_tool_error(
    codes::job_not_found,
    "Dependency " + id
      + " does not exist (options.dependsOn must name "
        "existing jobs)",
    {{"field", json_quote("options.dependsOn")}, {"jobId", json_quote(id)}});
}

void check_owners(self_ptr self, std::vector<std::string> ids,
                  std::function<void()> ok,
                  std::function<void(const std::string&)> foreign,
                  std::function<void(caf::error&)> failed) {
  owner_list q;
  q.job_ids = std::move(ids);
  self->request(self->state.scheduler, caf::infinite, atom::owner_v, q)
    .then(
      [self, ok{std::move(ok)}, foreign{std::move(foreign)}](owner_list& r) {
        for (size_t i = 0; i < r.job_ids.size(); ++i) {
          if (i >= r.sessions.size() || !in_namespace(self, r.sessions[i])) {
            foreign(r.job_ids[i]);
            return;
          }
        }
        ok();
      },
      std::move(failed));
}

void scope_metrics(self_ptr self, metrics_snapshot& m) {
  auto& s = m.sessions;
  s.erase(std::remove_if(s.begin(), s.end(),
                         [self](const session_metrics& x) {
                           return !in_namespace(self, x.session_id);
                         }),
          s.end());
}

void call_ended(self_ptr self, const std::string& id, bool replied) {
  auto& st = self->state;
  if (!st.config.latency)
    return;
  auto i = st.timed.find(id);
  if (i == st.timed.end())
    return;
  if (replied) {
    auto d = std::chrono::steady_clock::now() - i->second.start;
    st.config.latency->observe(i->second.tool,
                               std::chrono::duration<double>(d).count());
  }
  st.timed.erase(i);
}

} // namespace jobd
