// Reading a tree's stdout and stderr, with flow control, and the bounded
// drain once the tree is empty.
#include "actors/kinds/process/reactor_impl.hpp"

#include <caf/send.hpp>

#include <poll.h>

namespace asio = boost::asio;

namespace jobd {

namespace {

/// How long a pipe stays unread before `in_flight` is looked at again.
constexpr auto flow_control_pause = std::chrono::milliseconds{1};

/// Does any process still hold the write end of the pipe `fd` reads? A
/// pipe's read end reports POLLHUP once no writer is left, even while data
/// is still buffered.
bool has_writer(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) >= 0 && (p.revents & POLLHUP) == 0;
}

} // namespace

void process_reactor::impl::read_next(const tree_ptr& t, stream_kind kind) {
  auto& r = t->reader(kind);
  if (r.ended)
    return;
  if (!r.pipe.is_open()) {
    end_stream(t, kind);
    return;
  }
  if (!t->orphaned && t->in_flight
      && t->in_flight->load(std::memory_order_relaxed) > t->max_in_flight) {
    // The sink has not taken enough of what it got: leave the pipe full.
    r.pause.expires_after(flow_control_pause);
    r.pause.async_wait([this, t, kind](const boost::system::error_code&) {
      read_next(t, kind);
    });
    return;
  }
  // Readable first, then read into the reactor's buffer: a stream that
  // waits holds no memory.
  r.pipe.async_wait(
    asio::posix::stream_descriptor::wait_read,
    [this, t, kind](boost::system::error_code ec) {
      auto& r = t->reader(kind);
      if (r.ended)
        return; // closed by the drain: what came with it is dropped
      size_t n = 0;
      if (!ec) {
        if (!read_buf)
          read_buf.reset(new char[read_buffer_size]);
        n = r.pipe.read_some(asio::buffer(read_buf.get(), read_buffer_size),
                             ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again)
          ec.clear(); // woken for nothing: wait again
      }
      if (n > 0 && !t->orphaned) {
        if (t->in_flight)
          t->in_flight->fetch_add(static_cast<int64_t>(n));
        caf::anon_send(t->sink, atom::data_v, kind,
                       std::string{read_buf.get(), n});
      }
      if (ec) {
        // EOF, or an error that ends the stream just the same.
        end_stream(t, kind);
        return;
      }
      read_next(t, kind);
    });
}

void process_reactor::impl::end_stream(const tree_ptr& t, stream_kind kind) {
  auto& r = t->reader(kind);
  if (r.ended)
    return;
  r.ended = true;
  r.pause.cancel();
  boost::system::error_code ignored;
  r.pipe.close(ignored); // cancels the wait in flight
  if (!t->orphaned)
    caf::anon_send(t->sink, atom::eof_v, kind);
  maybe_finish(t);
}

void process_reactor::impl::on_drain_timeout(const tree_ptr& t) {
  if (t->finished)
    return;
  for (auto kind : {stream_kind::out, stream_kind::err}) {
    auto& r = t->reader(kind);
    // A pipe without writers holds only what the tree wrote before it
    // ended: read it to its end, at the pace flow control allows. One that
    // a process still holds open (it left the tree) is closed now.
    if (!r.ended && r.pipe.is_open() && has_writer(r.pipe.native_handle()))
      end_stream(t, kind);
  }
}

} // namespace jobd
