#include "actors/transport/http_server.hpp"

// TODO(http): the real thing.
namespace jobd {

struct http_server::impl {
  http_options options;
  http_hooks hooks;
};

http_server::http_server(http_options options, http_hooks hooks)
  : impl_(std::make_unique<impl>(impl{std::move(options), std::move(hooks)})) {
}

http_server::~http_server() {
  stop();
}

bool http_server::start(std::string& why) {
  why = "the HTTP transport is not built yet";
  return false;
}

uint16_t http_server::port() const {
  return impl_->options.port;
}

protocol::http_stats http_server::stats() const {
  return {};
}

void http_server::stop() {
}

} // namespace jobd
