#include "actors/transport/http_auth.hpp"

#include <algorithm>
#include <cmath>

namespace jobd::http_detail {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size()
         && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
              auto lower = [](char c) {
                return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a')
                                            : c;
              };
              return lower(x) == lower(y);
            });
}

// The host of `host[:port]` or `[v6][:port]`, lowercase; empty if the port
// is not a number.
std::string host_part(std::string_view value) {
  std::string_view host = value;
  std::string_view port;
  if (!value.empty() && value.front() == '[') {
    auto close = value.find(']');
    if (close == std::string_view::npos)
      return {};
    host = value.substr(0, close + 1);
    auto rest = value.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':')
        return {};
      port = rest.substr(1);
    }
  } else if (auto colon = value.find(':'); colon != std::string_view::npos) {
    if (value.find(':', colon + 1) != std::string_view::npos)
      return {}; // a bare IPv6 address is not a Host value
    host = value.substr(0, colon);
    port = value.substr(colon + 1);
  }
  if (!std::all_of(port.begin(), port.end(),
                   [](char c) { return c >= '0' && c <= '9'; })
      || port.size() > 5)
    return {};
  return lowercase(host);
}

bool loopback_name(std::string_view host) {
  return host == "localhost" || host == "127.0.0.1" || host == "[::1]";
}

} // namespace

std::string lowercase(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return out;
}

token_check::token_check(std::vector<http_token> tokens)
  : tokens_(std::move(tokens)) {}

bool token_check::find(std::string_view authorization,
                       std::string& principal) const {
  authorization = trim(authorization);
  constexpr std::string_view scheme = "bearer ";
  if (authorization.size() <= scheme.size()
      || !iequals(authorization.substr(0, scheme.size()), scheme))
    return false;
  auto given = trim(authorization.substr(scheme.size()));
  if (given.empty())
    return false;
  // No early exit, neither per token nor per character: which token
  // matched (if any) is picked without a data-dependent branch.
  size_t match = tokens_.size();
  for (size_t i = 0; i < tokens_.size(); ++i) {
    auto& token = tokens_[i].token;
    unsigned diff = token.size() == given.size() ? 0u : 1u;
    for (size_t k = 0; k < token.size(); ++k) {
      auto g = static_cast<unsigned char>(given[k % given.size()]);
      diff |= static_cast<unsigned>(static_cast<unsigned char>(token[k]) ^ g);
    }
    auto equal = static_cast<size_t>(diff == 0);
    match = equal * i + (1 - equal) * match;
  }
  if (match == tokens_.size())
    return false;
  principal = tokens_[match].principal;
  return true;
}

bool origin_allowed(std::string_view origin,
                    const std::vector<std::string>& extra) {
  origin = trim(origin);
  while (!origin.empty() && origin.back() == '/')
    origin.remove_suffix(1);
  for (auto& x : extra) {
    std::string_view allowed = x;
    while (!allowed.empty() && allowed.back() == '/')
      allowed.remove_suffix(1);
    if (iequals(origin, allowed))
      return true;
  }
  auto lower = lowercase(origin);
  std::string_view rest = lower;
  if (rest.substr(0, 7) == "http://")
    rest.remove_prefix(7);
  else if (rest.substr(0, 8) == "https://")
    rest.remove_prefix(8);
  else
    return false;
  if (rest.find('/') != std::string_view::npos
      || rest.find('@') != std::string_view::npos)
    return false;
  return loopback_name(host_part(rest));
}

host_check::host_check(const std::string& bound_host,
                       std::vector<std::string> extra, bool any)
  : any_(any) {
  auto bound = lowercase(bound_host);
  if (bound.find(':') != std::string::npos && bound.front() != '[')
    bound = "[" + bound + "]";
  names_.push_back(bound);
  for (auto& x : extra) {
    names_.push_back(lowercase(x));
    auto host = host_part(x);
    if (!host.empty() && host != names_.back())
      names_.push_back(host);
  }
}

bool host_check::allowed(std::string_view host) const {
  if (any_)
    return true;
  host = trim(host);
  auto name = host_part(host);
  if (name.empty())
    return false;
  if (loopback_name(name))
    return true;
  auto whole = lowercase(host);
  return std::any_of(names_.begin(), names_.end(), [&](const std::string& n) {
    return n == name || n == whole;
  });
}

rate_limiter::rate_limiter(double per_second, uint32_t burst)
  : rate_(per_second), burst_(std::max<double>(1, burst)) {}

int64_t rate_limiter::take(const std::string& principal,
                           std::chrono::steady_clock::time_point now) {
  if (rate_ <= 0)
    return 0;
  auto [i, fresh] = buckets_.try_emplace(principal);
  auto& b = i->second;
  if (fresh) {
    b.tokens = burst_;
  } else {
    std::chrono::duration<double> elapsed = now - b.last;
    b.tokens = std::min(burst_, b.tokens + elapsed.count() * rate_);
  }
  b.last = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return 0;
  }
  return std::max<int64_t>(
    1, static_cast<int64_t>(std::ceil((1 - b.tokens) / rate_)));
}

bool accepts(std::string_view accept, std::string_view type) {
  auto slash = type.find('/');
  auto family = type.substr(0, slash);
  while (!accept.empty()) {
    auto comma = accept.find(',');
    auto item = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view{}
                                             : accept.substr(comma + 1);
    auto range = lowercase(trim(item.substr(0, item.find(';'))));
    if (range == "*/*" || range == type)
      return true;
    if (range.size() == family.size() + 2
        && range.compare(0, family.size(), family) == 0
        && range.compare(family.size(), 2, "/*") == 0)
      return true;
  }
  return false;
}

std::string media_type(std::string_view content_type) {
  return lowercase(trim(content_type.substr(0, content_type.find(';'))));
}

bool http_protocol_version(std::string_view version) {
  version = trim(version);
  return version == "2025-11-25" || version == "2025-06-18"
         || version == "2025-03-26";
}

bool valid_session_id(std::string_view id) {
  return id.size() == 32 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

} // namespace jobd::http_detail
