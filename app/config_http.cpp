// The settings of the HTTP service (docs/http.md): the listener, tokens,
// principals, origin checks and bounds.
#include "app/config_settings.hpp"

#include "protocol/principal.hpp"

#include <arpa/inet.h>

namespace jobd {

bool split_host_port(const std::string& text, std::string& host,
                     uint16_t& port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return false;
  host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']')
      return false;
    host = host.substr(1, host.size() - 2);
    in6_addr a6{};
    if (::inet_pton(AF_INET6, host.c_str(), &a6) != 1)
      return false;
  } else if (host != "localhost") {
    in_addr a4{};
    if (::inet_pton(AF_INET, host.c_str(), &a4) != 1)
      return false;
  }
  int64_t p = 0;
  if (!settings_detail::parse_int(text.substr(colon + 1), 0, 65535, p))
    return false;
  port = static_cast<uint16_t>(p);
  return true;
}

bool loopback_host(const std::string& host) {
  if (host == "localhost" || host == "::1")
    return true;
  in_addr a4{};
  if (::inet_pton(AF_INET, host.c_str(), &a4) == 1)
    return (ntohl(a4.s_addr) >> 24) == 127;
  return false;
}

namespace settings_detail {

namespace {

setting address(const char* flag, const char* env, const char* help,
                std::string config::*field) {
  return {flag,
          env,
          help,
          [=](config& c, const std::string& text) {
            std::string host;
            uint16_t port = 0;
            if (!split_host_port(text, host, port))
              return false;
            c.*field = text;
            return true;
          },
          [=](const config& c) {
            return (c.*field).empty() ? std::string{"off"} : c.*field;
          },
          "HOST:PORT (an IPv4 address, [IPv6] or localhost; port 0 picks a "
          "free one)"};
}

} // namespace

std::vector<setting> http_settings() {
  auto admins
    = list("--admin", "JOBD_ADMINS",
           "a principal that sees and controls every principal's "
           "jobs",
           &config::admins, ',', "a principal (variable: comma-separated)");
  admins.set = [](config& c, const std::string& name) {
    if (!protocol::valid_principal(name))
      return false;
    c.admins.push_back(name);
    return true;
  };
  return {
    address("--http", "JOBD_HTTP",
            "serve MCP Streamable HTTP at http://HOST:PORT/mcp (loopback "
            "only unless --http-allow-remote)",
            &config::http),
    flag_switch("--http-allow-remote", "JOBD_HTTP_ALLOW_REMOTE",
                "let --http and --metrics-listen bind a non-loopback "
                "address",
                &config::http_allow_remote),
    flag_switch("--no-stdio", "JOBD_NO_STDIO",
                "do not serve MCP on stdin/stdout (with --http: a pure "
                "service, stopped by SIGTERM or SIGINT)",
                &config::no_stdio),
    {"--auth-token-file", "JOBD_AUTH_TOKEN_FILE",
     "bearer tokens for HTTP, one `principal:token` per line (required with "
     "--http unless --http-no-auth)",
     [](config& c, const std::string& text) {
       if (text.empty() || text.find('\0') != std::string::npos)
         return false;
       c.auth_token_file = text;
       return true;
     },
     [](const config& c) {
       return c.auth_token_file.empty() ? std::string{"none"}
                                        : c.auth_token_file;
     },
     "a file path"},
    flag_switch("--http-no-auth", "JOBD_HTTP_NO_AUTH",
                "serve HTTP without tokens, every request as principal "
                "`local` (loopback addresses only; logged as a warning)",
                &config::http_no_auth),
    admins,
    number("--max-concurrent-jobs-per-principal",
           "MAX_CONCURRENT_JOBS_PER_PRINCIPAL",
           "jobs running at once per principal, over its sessions (0 = no "
           "such limit)",
           &config::max_concurrent_jobs_per_principal, 0, 100000),
    address("--metrics-listen", "JOBD_METRICS_LISTEN",
            "serve GET /metrics and /healthz here, without authentication "
            "(loopback only unless --http-allow-remote)",
            &config::metrics_listen),
    list("--http-allow-origin", "JOBD_HTTP_ALLOW_ORIGINS",
         "an Origin accepted besides the loopback ones (exact, e.g. "
         "https://app.example.com)",
         &config::http_allow_origins, ',',
         "an origin (variable: comma-separated)"),
    list("--http-allow-host", "JOBD_HTTP_ALLOW_HOSTS",
         "a Host header value accepted besides the loopback names and the "
         "listening address",
         &config::http_allow_hosts, ',', "a host (variable: comma-separated)"),
    number("--http-request-timeout-ms", "JOBD_HTTP_REQUEST_TIMEOUT_MS",
           "time a client has to send one whole request (headers and body)",
           &config::http_request_timeout_ms, 100, 3600000),
    number("--http-idle-timeout-ms", "JOBD_HTTP_IDLE_TIMEOUT_MS",
           "an idle keep-alive connection is closed after this",
           &config::http_idle_timeout_ms, 100, 3600000),
    number("--http-rate-limit", "JOBD_HTTP_RATE_LIMIT",
           "HTTP requests per second per principal (0 = no limit; 429 "
           "beyond)",
           &config::http_rate_limit, 0, 1000000),
    number("--http-rate-burst", "JOBD_HTTP_RATE_BURST",
           "requests a principal may send at once above the rate",
           &config::http_rate_burst, 1, 1000000),
    number("--http-max-sessions", "JOBD_HTTP_MAX_SESSIONS",
           "MCP sessions over HTTP at once (503 beyond)",
           &config::http_max_sessions, 1, 100000),
    number("--http-session-idle-ms", "JOBD_HTTP_SESSION_IDLE_MS",
           "an HTTP session with no request and no open stream ends after "
           "this",
           &config::http_session_idle_ms, 1000),
    number("--http-max-connections", "JOBD_HTTP_MAX_CONNECTIONS",
           "TCP connections at once (more are closed at once)",
           &config::http_max_connections, 1, 100000),
  };
}

bool http_consistent(const config& c, std::string& message) {
  std::string host;
  uint16_t port = 0;
  if (c.http.empty()) {
    if (c.no_stdio) {
      message = "--no-stdio needs --http: there would be nothing to serve";
      return false;
    }
    if (!c.metrics_listen.empty()) {
      message = "--metrics-listen needs --http";
      return false;
    }
    return true;
  }
  split_host_port(c.http, host, port);
  if (!loopback_host(host) && !c.http_allow_remote) {
    message = "--http " + c.http
              + " is not a loopback address: add --http-allow-remote to "
                "serve other machines";
    return false;
  }
  if (c.http_no_auth && !loopback_host(host)) {
    message = "--http-no-auth is accepted only with a loopback address (--http "
              + c.http + ")";
    return false;
  }
  if (!c.http_no_auth && c.auth_token_file.empty()) {
    message = "--http needs --auth-token-file (or --http-no-auth on a "
              "loopback address)";
    return false;
  }
  if (c.http_no_auth && !c.auth_token_file.empty()) {
    message = "--http-no-auth and --auth-token-file exclude each other";
    return false;
  }
  if (!c.metrics_listen.empty()) {
    split_host_port(c.metrics_listen, host, port);
    if (!loopback_host(host) && !c.http_allow_remote) {
      message = "--metrics-listen " + c.metrics_listen
                + " is not a loopback address: add --http-allow-remote";
      return false;
    }
  }
  return true;
}

} // namespace settings_detail

} // namespace jobd
