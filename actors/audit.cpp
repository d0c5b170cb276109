#include "actors/audit.hpp"

#include "actors/audit_format.hpp"
#include "actors/logger.hpp"
#include "actors/unexpected.hpp"

#include <caf/event_based_actor.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace jobd {

namespace {

std::string error_text(int err) {
  return std::strerror(err);
}

} // namespace

audit_log::audit_log(audit_options options) : options_(std::move(options)) {
  if (options_.keep < 1)
    options_.keep = 1;
}

audit_log::~audit_log() {
  close();
}

bool audit_log::open(std::string& why) {
  return reopen(why);
}

bool audit_log::reopen(std::string& why) {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  auto& path = options_.path;
  // O_NOFOLLOW: a symlink planted at the path (to redirect the log, or to
  // make jobd append to a file of the attacker's choice) is refused.
  int fd = ::open(path.c_str(),
                  O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    int err = errno;
    why = "cannot open the audit log " + path + ": "
          + (err == ELOOP ? std::string{"it is a symbolic link"}
                          : error_text(err));
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    why = "cannot use the audit log " + path + ": not a regular file";
    return false;
  }
  // It may have existed with wider permissions.
  if ((st.st_mode & 07777) != 0600 && ::fchmod(fd, 0600) != 0) {
    int err = errno;
    ::close(fd);
    why
      = "cannot make the audit log " + path + " mode 0600: " + error_text(err);
    return false;
  }
  fd_ = fd;
  size_ = static_cast<uint64_t>(st.st_size);
  return true;
}

void audit_log::rotate() {
  auto& path = options_.path;
  // FILE.(keep-1) replaces FILE.keep (the oldest goes), ..., FILE.1 ->
  // FILE.2, then FILE -> FILE.1. rename() moves links, never follows them.
  for (auto k = options_.keep; k >= 2; --k) {
    auto from = path + "." + std::to_string(k - 1);
    auto to = path + "." + std::to_string(k);
    if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT)
      report("rotate",
             "cannot rename " + from + " to " + to + ": " + error_text(errno));
  }
  auto first = path + ".1";
  if (::rename(path.c_str(), first.c_str()) != 0 && errno != ENOENT)
    report("rotate",
           "cannot rename " + path + " to " + first + ": " + error_text(errno));
  // The old file is complete: make it durable before the new one starts.
  if (fd_ >= 0)
    ::fdatasync(fd_);
  std::string why;
  if (!reopen(why))
    report("open", why);
}

void audit_log::append(const std::string& line) {
  if (line.empty())
    return;
  if (fd_ < 0) {
    // Lost at a rotation (or closed): try again for each entry.
    std::string why;
    if (!reopen(why)) {
      report("open", why);
      return;
    }
  }
  if (size_ > 0 && size_ + line.size() > options_.max_bytes) {
    rotate();
    if (fd_ < 0)
      return;
  }
  // O_APPEND: each write lands at the end; a whole line in one write (a
  // regular file takes it all unless the disk is full).
  size_t done = 0;
  while (done < line.size()) {
    auto n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      report("write", "cannot write the audit log " + options_.path + ": "
                        + error_text(n < 0 ? errno : ENOSPC));
      break;
    }
    done += static_cast<size_t>(n);
  }
  size_ += done;
}

void audit_log::close() {
  if (fd_ < 0)
    return;
  ::fsync(fd_);
  ::close(fd_);
  fd_ = -1;
}

void audit_log::report(const std::string& kind, const std::string& message) {
  if (reported_.insert(kind).second)
    log::error("audit: " + message + " (further " + kind
               + " errors are not reported)");
}

audit_actor::behavior_type audit(audit_ptr self,
                                 std::shared_ptr<audit_log> log) {
  self->set_default_handler(log_and_drop);
  self->state.log = std::move(log);
  auto write = [self](const std::string& line) {
    if (!self->state.stopped)
      self->state.log->append(line);
  };
  write(audit_format::server_line(now_ms(), "start", ::getpid(), JOBD_VERSION));
  return {
    [write](atom::event, const job_event& ev) {
      write(audit_format::job_line(now_ms(), ev));
    },
    // Output growth is no lifecycle event.
    [](atom::output, const output_news&) {},
    [write](atom::audit, const std::string& session, const std::string& tool,
            const std::string& arguments, const std::string& error_code,
            int64_t duration_ms) {
      write(audit_format::tool_call_line(now_ms(), session, tool, arguments,
                                         error_code, duration_ms));
    },
    [write](atom::audit, atom::start, const std::string& session,
            const std::string& name, const std::string& version) {
      write(audit_format::initialize_line(now_ms(), session, name, version));
    },
    [self, write](atom::shutdown) {
      write(
        audit_format::server_line(now_ms(), "stop", ::getpid(), JOBD_VERSION));
      self->state.stopped = true;
      self->state.log->close();
      return true;
    },
  };
}

} // namespace jobd
