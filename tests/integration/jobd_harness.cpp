#include "jobd_harness.hpp"

#include <gtest/gtest.h>

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#ifndef JOBD_BINARY
#define JOBD_BINARY "jobd"
#endif

extern char** environ;

namespace jobd_it {

// -- JSON helpers
// ---------------------------------------------------------------

std::string q(const std::string& text) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  return std::string(buf.GetString(), buf.GetSize());
}

std::string to_json(const Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

const Value* at(const Value& v, const std::string& path) {
  const Value* cur = &v;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t dot = path.find('.', pos);
    std::string key = path.substr(
      pos, dot == std::string::npos ? std::string::npos : dot - pos);
    if (!cur->IsObject())
      return nullptr;
    auto it = cur->FindMember(key.c_str());
    if (it == cur->MemberEnd())
      return nullptr;
    cur = &it->value;
    if (dot == std::string::npos)
      break;
    pos = dot + 1;
  }
  return cur;
}

bool has(const Value& v, const std::string& path) {
  return at(v, path) != nullptr;
}

bool is_null(const Value& v, const std::string& path) {
  auto p = at(v, path);
  return p != nullptr && p->IsNull();
}

std::string str(const Value& v, const std::string& path) {
  auto p = at(v, path);
  if (p == nullptr || !p->IsString()) {
    ADD_FAILURE() << "expected a string at '" << path << "' in "
                  << to_json(v).substr(0, 2000);
    return "";
  }
  return std::string(p->GetString(), p->GetStringLength());
}

int64_t num(const Value& v, const std::string& path) {
  auto p = at(v, path);
  if (p == nullptr || !p->IsInt64()) {
    ADD_FAILURE() << "expected an integer at '" << path << "' in "
                  << to_json(v).substr(0, 2000);
    return -1;
  }
  return p->GetInt64();
}

bool boolean(const Value& v, const std::string& path) {
  auto p = at(v, path);
  if (p == nullptr || !p->IsBool()) {
    ADD_FAILURE() << "expected a boolean at '" << path << "' in "
                  << to_json(v).substr(0, 2000);
    return false;
  }
  return p->GetBool();
}

DocPtr parse(const std::string& text) {
  auto doc = std::make_shared<Doc>();
  doc->Parse<rapidjson::kParseValidateEncodingFlag
             | rapidjson::kParseIterativeFlag>(text.data(), text.size());
  return doc;
}

bool valid_utf8(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size(), i = 0;
  while (i < n) {
    unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n)
      return false;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF
        || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

// -- time
// -----------------------------------------------------------------------

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch())
    .count();
}

int64_t parse_iso_ms(const std::string& t) {
  // 2026-11-28T10:30:00.000Z
  if (t.size() != 24 || t[4] != '-' || t[7] != '-' || t[10] != 'T'
      || t[13] != ':' || t[16] != ':' || t[19] != '.' || t[23] != 'Z')
    return -1;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22})
    if (t[i] < '0' || t[i] > '9')
      return -1;
  struct tm tm {};
  tm.tm_year = std::stoi(t.substr(0, 4)) - 1900;
  tm.tm_mon = std::stoi(t.substr(5, 2)) - 1;
  tm.tm_mday = std::stoi(t.substr(8, 2));
  tm.tm_hour = std::stoi(t.substr(11, 2));
  tm.tm_min = std::stoi(t.substr(14, 2));
  tm.tm_sec = std::stoi(t.substr(17, 2));
  time_t secs = timegm(&tm);
  return static_cast<int64_t>(secs) * 1000 + std::stoi(t.substr(20, 3));
}

// -- reaping orphans
// ---------------------------------------------------------------

namespace {

struct reaper_state {
  std::mutex mtx;
  std::set<pid_t> jobd_pids; // reaped by their harness, never by the reaper
};

reaper_state& reaper() {
  static auto* state
    = new reaper_state; // never destroyed: used by a detached thread
  return *state;
}

/// Reads a /proc file with plain read(2): the process may vanish meanwhile
/// (ESRCH), which iostreams would turn into an exception.
bool read_small_file(const char* path, std::string& out) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      ::close(fd);
      return n == 0 && !out.empty();
    }
    out.append(buf, static_cast<size_t>(n));
  }
}

bool read_stat(pid_t pid, proc_info& out) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  std::string text;
  if (!read_small_file(path, text))
    return false;
  auto open = text.find('(');
  auto close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos
      || close + 2 >= text.size())
    return false;
  out.pid = pid;
  out.comm = text.substr(open + 1, close - open - 1);
  std::istringstream rest(text.substr(close + 2));
  std::string state;
  long ppid = 0, pgrp = 0;
  rest >> state >> ppid >> pgrp;
  if (!rest || state.empty())
    return false;
  out.state = state[0];
  out.ppid = static_cast<pid_t>(ppid);
  out.pgrp = static_cast<pid_t>(pgrp);
  return true;
}

/// Reaps zombies whose parent is this process (orphans re-parented to us as
/// the subreaper), except the jobd processes their harnesses wait for.
void reap_orphans_now() {
  auto& r = reaper();
  std::lock_guard<std::mutex> guard(r.mtx);
  pid_t self = getpid();
  for (auto& p : list_procs()) {
    if (p.ppid == self && p.state == 'Z' && r.jobd_pids.count(p.pid) == 0) {
      int st = 0;
      waitpid(p.pid, &st, WNOHANG);
    }
  }
}

void ensure_reaper() {
  static std::once_flag once;
  std::call_once(once, [] {
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    std::thread([] {
      for (;;) {
        reap_orphans_now();
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }).detach();
  });
}

const char* const jobd_settings[] = {
  "MAX_CONCURRENT_JOBS",
  "MAX_CONCURRENT_JOBS_PER_SESSION",
  "JOB_TIMEOUT_MS",
  "JOB_RETENTION_MS",
  "JOB_CLEANUP_INTERVAL",
  "OUTPUT_BUFFER_SIZE",
  "OUTPUT_BUFFER_BYTES",
  "KILL_GRACE_MS",
  "MAX_WAIT_MS",
  "MAX_LINE_BYTES",
  "LOG_LEVEL",
  "MAX_PENDING_JOBS",
  "OUTPUT_TOTAL_BYTES",
  "JOBD_STATE_DIR",
  "JOBD_EPHEMERAL",
  "JOBD_NO_REQUEUE",
  "JOBD_STORE_MAX_BYTES",
  "XDG_STATE_HOME",
};

} // namespace

// -- /proc helpers
// ---------------------------------------------------------------

std::vector<proc_info> list_procs() {
  std::vector<proc_info> result;
  DIR* dir = opendir("/proc");
  if (dir == nullptr)
    return result;
  while (auto* ent = readdir(dir)) {
    char* end = nullptr;
    long pid = std::strtol(ent->d_name, &end, 10);
    if (end == ent->d_name || *end != '\0' || pid <= 0)
      continue;
    proc_info info;
    if (read_stat(static_cast<pid_t>(pid), info))
      result.push_back(std::move(info));
  }
  closedir(dir);
  return result;
}

std::vector<proc_info> procs_in_group(pid_t pgid) {
  reap_orphans_now();
  std::vector<proc_info> result;
  if (pgid <= 0)
    return result;
  pid_t self = getpid();
  for (auto& p : list_procs()) {
    if (p.pgrp != pgid || p.state == 'X')
      continue;
    if (p.state == 'Z' && p.ppid == self)
      continue;
    result.push_back(p);
  }
  return result;
}

bool wait_group_size(pid_t pgid, size_t n, int timeout_ms) {
  auto deadline = now_ms() + timeout_ms;
  while (now_ms() < deadline) {
    size_t live = 0;
    for (auto& p : procs_in_group(pgid))
      live += p.state != 'Z';
    if (live >= n)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

bool wait_group_gone(pid_t pgid, int timeout_ms) {
  auto deadline = now_ms() + timeout_ms;
  for (;;) {
    if (procs_in_group(pgid).empty())
      return true;
    if (now_ms() >= deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

bool pid_alive(pid_t pid) {
  proc_info info;
  if (!read_stat(pid, info))
    return false;
  return info.state != 'Z' && info.state != 'X';
}

double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  if (close == std::string::npos)
    return -1;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  // After the comm: state is field 3; utime and stime are fields 14 and 15.
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14)
      utime = std::stoull(field);
    if (i == 15)
      stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime)
         / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long vm_rss_kib(pid_t pid) {
  std::string text;
  if (!read_small_file(("/proc/" + std::to_string(pid) + "/status").c_str(),
                       text))
    return -1;
  auto pos = text.find("VmRSS:");
  if (pos == std::string::npos)
    return -1;
  return std::strtol(text.c_str() + pos + 6, nullptr, 10);
}

std::string describe(const std::vector<proc_info>& procs) {
  std::ostringstream out;
  for (auto& p : procs)
    out << "[pid " << p.pid << " ppid " << p.ppid << " pgrp " << p.pgrp
        << " state " << p.state << " " << p.comm << "] ";
  return out.str();
}

// -- tool_result
// ------------------------------------------------------------------

std::string tool_result::code() const {
  if (sc == nullptr)
    return "";
  auto p = at(*sc, "code");
  return p && p->IsString() ? p->GetString() : "";
}

std::string tool_result::message() const {
  if (sc == nullptr)
    return "";
  auto p = at(*sc, "error");
  return p && p->IsString() ? p->GetString() : "";
}

const Value& tool_result::operator*() const {
  static const Value empty(rapidjson::kObjectType);
  return sc ? *sc : empty;
}

std::string tool_result::dump() const {
  if (!response)
    return "<no response>";
  return to_json(*response).substr(0, 4000);
}

// -- jobd_process
// ---------------------------------------------------------------------

jobd_process::jobd_process() : jobd_process(jobd_options{}) {}

jobd_process::jobd_process(std::vector<std::string> args) {
  jobd_options opts;
  opts.args = std::move(args);
  opts_ = opts;
  start(opts_);
}

jobd_process::jobd_process(jobd_options opts) : opts_(std::move(opts)) {
  start(opts_);
}

void jobd_process::start(const jobd_options& given) {
  ensure_reaper();
  // Every jobd gets a state directory of its own unless the test chose one
  // (restarts and shared directories), so no test sees another's jobs.
  auto opts = given;
  bool chosen = false;
  for (auto& a : opts.args)
    chosen = chosen || a.rfind("--state-dir", 0) == 0 || a == "--ephemeral";
  for (auto& kv : opts.env)
    chosen
      = chosen || kv.first == "JOBD_STATE_DIR" || kv.first == "JOBD_EPHEMERAL";
  if (!chosen) {
    char tmpl[] = "/tmp/jobd-test-state-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) {
      owned_state_dir_ = tmpl;
      opts.env.emplace_back("JOBD_STATE_DIR", owned_state_dir_);
    }
  }
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0
      || pipe2(err_pipe, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2 failed: " << std::strerror(errno);
    return;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t def, empty;
  sigemptyset(&def);
  sigaddset(&def, SIGPIPE);
  sigemptyset(&empty);
  posix_spawnattr_setsigdefault(&attr, &def);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<std::string> argv_s = opts.exec_prefix;
  argv_s.emplace_back(opts.binary.empty() ? std::string{JOBD_BINARY}
                                          : opts.binary);
  argv_s.insert(argv_s.end(), opts.args.begin(), opts.args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  std::vector<std::string> env_s;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry = *e;
    auto name = entry.substr(0, entry.find('='));
    bool drop = false;
    for (auto* s : jobd_settings)
      drop = drop || name == s;
    for (auto& kv : opts.env)
      drop = drop || name == kv.first;
    if (!drop)
      env_s.push_back(entry);
  }
  for (auto& kv : opts.env)
    env_s.push_back(kv.first + "=" + kv.second);
  std::vector<char*> envp;
  for (auto& e : env_s)
    envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  {
    std::lock_guard<std::mutex> guard(reaper().mtx);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, argv_s.front().c_str(), &fa, &attr, argv.data(),
                         envp.data());
    if (rc != 0) {
      ADD_FAILURE() << "posix_spawn(" << JOBD_BINARY
                    << ") failed: " << std::strerror(rc);
    } else {
      pid_ = pid;
      reaper().jobd_pids.insert(pid);
    }
  }
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  in_fd_ = in_pipe[1];
  out_fd_ = out_pipe[0];
  err_fd_ = err_pipe[0];
  fcntl(in_fd_, F_SETFL, fcntl(in_fd_, F_GETFL) | O_NONBLOCK);
  if (pid_ <= 0)
    return;
  out_thread_ = std::thread([this] { reader_loop(); });
  err_thread_ = std::thread([this] { stderr_loop(); });
  if (opts.handshake)
    handshake(opts.protocol_version);
}

jobd_process::~jobd_process() {
  if (pid_ > 0 && !exit_status_) {
    close_stdin();
    if (!wait_exit(3000)) {
      ADD_FAILURE() << "jobd did not exit within 3 s of stdin EOF; killing it";
      killed_by_us_ = true;
      ::kill(pid_, SIGKILL);
      wait_exit(5000);
    }
  }
  if (pid_ > 0 && exit_status_ && WIFSIGNALED(*exit_status_) && !killed_by_us_)
    ADD_FAILURE() << "jobd died of signal " << WTERMSIG(*exit_status_)
                  << "; stderr tail: "
                  << stderr_text().substr(stderr_text().size() > 2000
                                            ? stderr_text().size() - 2000
                                            : 0);
  if (!owned_state_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(owned_state_dir_, ec);
  }
  // Let the reader see EOF (or give up), then check what is left.
  if (out_thread_.joinable()) {
    {
      std::unique_lock<std::mutex> lock(mtx_);
      cv_.wait_for(lock, std::chrono::milliseconds(500),
                   [this] { return out_eof_; });
    }
    stop_ = true;
    out_thread_.join();
  }
  stop_ = true;
  if (err_thread_.joinable())
    err_thread_.join();
  for (;;) {
    std::string line;
    {
      std::lock_guard<std::mutex> guard(mtx_);
      if (lines_.empty())
        break;
      line = std::move(lines_.front());
      lines_.pop_front();
    }
    if (opts_.protocol_stdout)
      check_message(line);
  }
  // Processes left behind: orphans re-parented to us, and job groups we saw.
  if (pid_ > 0) {
    pid_t self = getpid();
    std::vector<proc_info> left;
    auto deadline = now_ms() + 1000;
    for (;;) {
      reap_orphans_now();
      left.clear();
      std::set<pid_t> jobd_pids;
      {
        std::lock_guard<std::mutex> guard(reaper().mtx);
        jobd_pids = reaper().jobd_pids;
      }
      for (auto& p : list_procs()) {
        if (p.state == 'Z' || p.state == 'X' || jobd_pids.count(p.pid))
          continue;
        bool ours = p.ppid == self;
        for (auto pg : job_pids_)
          ours = ours || p.pgrp == pg;
        if (ours)
          left.push_back(p);
      }
      if (left.empty() || now_ms() >= deadline)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!left.empty()) {
      ADD_FAILURE() << "processes left behind after jobd exited: "
                    << describe(left);
      for (auto& p : left)
        ::kill(p.pid, SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      reap_orphans_now();
    }
    std::lock_guard<std::mutex> guard(reaper().mtx);
    reaper().jobd_pids.erase(pid_);
  }
  if (in_fd_ >= 0)
    close(in_fd_);
  if (out_fd_ >= 0)
    close(out_fd_);
  if (err_fd_ >= 0)
    close(err_fd_);
}

void jobd_process::reader_loop() {
  std::string partial;
  char buf[65536];
  while (!stop_) {
    pollfd pfd{out_fd_, POLLIN, 0};
    int rc = poll(&pfd, 1, 100);
    if (rc <= 0)
      continue;
    ssize_t n = read(out_fd_, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (n <= 0) {
      std::lock_guard<std::mutex> guard(mtx_);
      if (!partial.empty()) {
        lines_.push_back(partial + "\x01<unterminated line at EOF>");
        partial.clear();
      }
      out_eof_ = true;
      cv_.notify_all();
      return;
    }
    partial.append(buf, static_cast<size_t>(n));
    size_t start = 0;
    std::vector<std::string> got;
    for (;;) {
      auto nl = partial.find('\n', start);
      if (nl == std::string::npos)
        break;
      got.push_back(partial.substr(start, nl - start));
      start = nl + 1;
    }
    partial.erase(0, start);
    if (!got.empty()) {
      std::lock_guard<std::mutex> guard(mtx_);
      for (auto& l : got)
        lines_.push_back(std::move(l));
      cv_.notify_all();
    }
  }
}

void jobd_process::stderr_loop() {
  char buf[65536];
  for (;;) {
    pollfd pfd{err_fd_, POLLIN, 0};
    int rc = poll(&pfd, 1, 100);
    if (rc <= 0) {
      if (stop_)
        return;
      continue;
    }
    ssize_t n = read(err_fd_, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (n <= 0) {
      std::lock_guard<std::mutex> guard(mtx_);
      err_eof_ = true;
      cv_.notify_all();
      return;
    }
    std::lock_guard<std::mutex> guard(mtx_);
    err_buf_.append(buf, static_cast<size_t>(n));
    if (err_buf_.size() > (32u << 20))
      err_buf_.erase(0, err_buf_.size() - (16u << 20));
  }
}

std::string jobd_process::stderr_text() {
  std::unique_lock<std::mutex> lock(mtx_);
  // Once jobd has exited, everything it wrote is one read away.
  if (exit_status_)
    cv_.wait_for(lock, std::chrono::milliseconds(1000),
                 [this] { return err_eof_; });
  return err_buf_;
}

bool jobd_process::send_raw(const std::string& bytes, int timeout_ms) {
  if (in_fd_ < 0)
    return false;
  auto deadline = now_ms() + timeout_ms;
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = write(in_fd_, bytes.data() + off, bytes.size() - off);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN) {
      auto left = deadline - now_ms();
      if (left <= 0) {
        ADD_FAILURE() << "jobd stopped reading its stdin (" << off << " of "
                      << bytes.size() << " bytes written)";
        return false;
      }
      pollfd pfd{in_fd_, POLLOUT, 0};
      poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left, 100)));
      continue;
    }
    return false; // EPIPE: jobd closed its stdin
  }
  return true;
}

bool jobd_process::send_line(const std::string& line, int timeout_ms) {
  return send_raw(line + "\n", timeout_ms);
}

std::optional<std::string> jobd_process::read_line(int timeout_ms) {
  std::unique_lock<std::mutex> lock(mtx_);
  cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
               [this] { return !lines_.empty() || out_eof_; });
  if (lines_.empty())
    return std::nullopt;
  auto line = std::move(lines_.front());
  lines_.pop_front();
  return line;
}

DocPtr jobd_process::check_message(const std::string& line) {
  auto doc = parse(line);
  if (doc->HasParseError()) {
    ++bad_lines_;
    ADD_FAILURE() << "jobd wrote a stdout line that is not valid JSON ("
                  << rapidjson::GetParseError_En(doc->GetParseError()) << " at "
                  << doc->GetErrorOffset() << "): " << line.substr(0, 300);
    return nullptr;
  }
  auto fail = [&](const char* why) {
    ++bad_lines_;
    ADD_FAILURE()
      << "jobd wrote a stdout line that is not a JSON-RPC 2.0 message (" << why
      << "): " << line.substr(0, 300);
  };
  if (!doc->IsObject()) {
    fail("not an object");
    return nullptr;
  }
  auto jr = doc->FindMember("jsonrpc");
  if (jr == doc->MemberEnd() || !jr->value.IsString()
      || std::string(jr->value.GetString()) != "2.0") {
    fail("jsonrpc is not \"2.0\"");
    return nullptr;
  }
  bool has_id = doc->HasMember("id");
  bool has_result = doc->HasMember("result");
  bool has_error = doc->HasMember("error");
  bool has_method = doc->HasMember("method");
  if (has_method) {
    if (!(*doc)["method"].IsString() || has_result || has_error)
      fail("bad request/notification");
    return doc;
  }
  if (!has_id || has_result == has_error) {
    fail("a response needs an id and exactly one of result/error");
    return nullptr;
  }
  const auto& id = (*doc)["id"];
  if (!(id.IsString() || id.IsInt64() || id.IsNull()))
    fail("id is neither string, integer nor null");
  if (has_error) {
    const auto& e = (*doc)["error"];
    if (!e.IsObject() || !e.HasMember("code") || !e["code"].IsInt()
        || !e.HasMember("message") || !e["message"].IsString())
      fail("error must be {code: integer, message: string}");
  } else if (!(*doc)["result"].IsObject()) {
    fail("result is not an object");
  }
  return doc;
}

DocPtr jobd_process::read_message(int timeout_ms) {
  auto line = read_line(timeout_ms);
  if (!line)
    return nullptr;
  return check_message(*line);
}

int64_t jobd_process::send_request(const std::string& method,
                                   const std::string& params_json) {
  int64_t id = next_id_++;
  std::string line = "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(id)
                     + ",\"method\":" + q(method);
  if (!params_json.empty())
    line += ",\"params\":" + params_json;
  line += "}";
  send_line(line);
  return id;
}

DocPtr jobd_process::await_response_raw(const std::string& id_json,
                                        int timeout_ms) {
  auto deadline = now_ms() + timeout_ms;
  for (;;) {
    auto it = stash_.find(id_json);
    if (it != stash_.end()) {
      auto doc = it->second;
      stash_.erase(it);
      return doc;
    }
    auto left = deadline - now_ms();
    if (left <= 0)
      return nullptr;
    auto line = read_line(static_cast<int>(left));
    if (!line) {
      std::lock_guard<std::mutex> guard(mtx_);
      if (out_eof_ && lines_.empty())
        return nullptr;
      continue;
    }
    auto doc = check_message(*line);
    if (!doc)
      continue;
    if (doc->HasMember("id")
        && (doc->HasMember("result") || doc->HasMember("error"))) {
      auto key = to_json((*doc)["id"]);
      if (key == id_json)
        return doc;
      stash_[key] = doc;
    } else {
      notifications_.push_back(doc);
    }
  }
}

DocPtr jobd_process::await_response(int64_t id, int timeout_ms) {
  return await_response_raw(std::to_string(id), timeout_ms);
}

DocPtr jobd_process::call(const std::string& method,
                          const std::string& params_json, int timeout_ms) {
  auto id = send_request(method, params_json);
  auto doc = await_response(id, timeout_ms);
  if (!doc)
    ADD_FAILURE() << "no response to " << method << " "
                  << params_json.substr(0, 300) << " within " << timeout_ms
                  << " ms";
  return doc;
}

std::vector<DocPtr> jobd_process::notifications() {
  return notifications_;
}

void jobd_process::handshake(const std::string& version) {
  auto doc = call("initialize", "{\"protocolVersion\":" + q(version)
                                  + ",\"capabilities\":{},\"clientInfo\":{"
                                    "\"name\":\"jobd-it\",\"version\":\"1\"}}");
  if (!doc || !doc->HasMember("result")) {
    ADD_FAILURE() << "initialize failed: " << (doc ? to_json(*doc) : "<none>");
    return;
  }
  send_line(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
}

void jobd_process::fetch_schemas() {
  schemas_fetched_ = true;
  std::string cursor;
  for (int page = 0; page < 20; ++page) {
    auto doc = call("tools/list",
                    cursor.empty() ? "{}" : "{\"cursor\":" + q(cursor) + "}");
    if (!doc || !doc->HasMember("result"))
      return;
    auto* tools = at(*doc, "result.tools");
    if (tools == nullptr || !tools->IsArray())
      return;
    for (auto& t : tools->GetArray()) {
      auto* name = at(t, "name");
      auto* schema = at(t, "outputSchema");
      if (name && name->IsString() && schema && schema->IsObject()) {
        auto copy = std::make_shared<Doc>();
        copy->CopyFrom(*schema, copy->GetAllocator());
        schema_sources_.push_back(copy);
        schemas_[name->GetString()]
          = std::make_shared<rapidjson::SchemaDocument>(*copy);
      }
    }
    auto* next = at(*doc, "result.nextCursor");
    if (next == nullptr || !next->IsString())
      return;
    cursor = next->GetString();
  }
}

void jobd_process::validate_output(const std::string& tool, const Value& sc) {
  if (!opts_.check_output_schema)
    return;
  auto it = schemas_.find(tool);
  if (it == schemas_.end())
    return;
  rapidjson::SchemaValidator validator(*it->second);
  if (!sc.Accept(validator)) {
    rapidjson::StringBuffer sp, dp;
    validator.GetInvalidSchemaPointer().StringifyUriFragment(sp);
    validator.GetInvalidDocumentPointer().StringifyUriFragment(dp);
    ADD_FAILURE() << "structuredContent of " << tool
                  << " does not match its outputSchema: keyword '"
                  << validator.GetInvalidSchemaKeyword() << "' at schema "
                  << sp.GetString() << ", document " << dp.GetString() << ": "
                  << to_json(sc).substr(0, 1500);
  }
}

void jobd_process::note_pids(const Value& v) {
  if (v.IsObject()) {
    auto pid = v.FindMember("pid");
    if (pid != v.MemberEnd() && pid->value.IsInt64()
        && pid->value.GetInt64() > 0) {
      auto p = static_cast<pid_t>(pid->value.GetInt64());
      bool seen = false;
      for (auto x : job_pids_)
        seen = seen || x == p;
      if (!seen)
        job_pids_.push_back(p);
    }
    for (auto& m : v.GetObject())
      note_pids(m.value);
  } else if (v.IsArray()) {
    for (auto& x : v.GetArray())
      note_pids(x);
  }
}

std::vector<pid_t> jobd_process::known_job_pids() {
  return job_pids_;
}

int64_t jobd_process::send_tool(const std::string& name,
                                const std::string& args_json) {
  if (opts_.check_output_schema && !schemas_fetched_)
    fetch_schemas();
  auto id = send_request("tools/call", "{\"name\":" + q(name)
                                         + ",\"arguments\":" + args_json + "}");
  tool_names_[id] = name;
  return id;
}

tool_result jobd_process::tool_result_of(int64_t id, int timeout_ms) {
  tool_result r;
  std::string name = tool_names_[id];
  tool_names_.erase(id);
  r.response = await_response(id, timeout_ms);
  if (!r.response) {
    ADD_FAILURE() << "no response to tools/call " << name << " within "
                  << timeout_ms << " ms";
    return r;
  }
  auto& doc = *r.response;
  if (doc.HasMember("error")) {
    r.rpc_error = true;
    r.rpc_code = num(doc, "error.code");
    r.rpc_message = str(doc, "error.message");
    return r;
  }
  auto* result = at(doc, "result");
  if (result == nullptr || !result->IsObject())
    return r;
  auto* ie = at(*result, "isError");
  r.is_error = ie != nullptr && ie->IsBool() && ie->GetBool();
  auto* sc = at(*result, "structuredContent");
  if (sc == nullptr || !sc->IsObject()) {
    ADD_FAILURE() << name
                  << ": result has no structuredContent object: " << r.dump();
    return r;
  }
  r.sc = sc;
  // The same JSON as one text block.
  auto* content = at(*result, "content");
  if (content == nullptr || !content->IsArray() || content->Size() < 1
      || !(*content)[0].IsObject() || !(*content)[0].HasMember("text")
      || !(*content)[0]["text"].IsString()) {
    ADD_FAILURE() << name << ": result has no text content block: " << r.dump();
  } else {
    EXPECT_EQ(str((*content)[0], "type"), "text");
    auto text = parse((*content)[0]["text"].GetString());
    EXPECT_FALSE(text->HasParseError()) << name << ": text block is not JSON";
    if (!text->HasParseError()) {
      EXPECT_TRUE(*text == *sc)
        << name << ": text block differs from structuredContent: " << r.dump();
    }
  }
  auto* success = at(*sc, "success");
  if (success == nullptr || !success->IsBool()) {
    ADD_FAILURE() << name << ": structuredContent has no boolean 'success': "
                  << r.dump();
  } else if (r.is_error) {
    EXPECT_FALSE(success->GetBool()) << r.dump();
    auto* code = at(*sc, "code");
    auto* err = at(*sc, "error");
    EXPECT_TRUE(code && code->IsString() && code->GetStringLength() > 0)
      << "isError without code: " << r.dump();
    EXPECT_TRUE(err && err->IsString() && err->GetStringLength() > 0)
      << "isError without message: " << r.dump();
    auto* details = at(*sc, "details");
    EXPECT_TRUE(details && details->IsObject())
      << "isError without details: " << r.dump();
  } else {
    EXPECT_TRUE(success->GetBool()) << r.dump();
    validate_output(name, *sc);
  }
  note_pids(*sc);
  return r;
}

tool_result jobd_process::tool(const std::string& name,
                               const std::string& args_json, int timeout_ms) {
  auto id = send_tool(name, args_json);
  return tool_result_of(id, timeout_ms);
}

void jobd_process::close_stdin() {
  if (in_fd_ >= 0) {
    close(in_fd_);
    in_fd_ = -1;
  }
}

std::optional<int> jobd_process::wait_exit(int timeout_ms) {
  if (exit_status_)
    return exit_status_;
  if (pid_ <= 0)
    return std::nullopt;
  auto deadline = now_ms() + timeout_ms;
  for (;;) {
    int st = 0;
    pid_t rc = waitpid(pid_, &st, WNOHANG);
    if (rc == pid_) {
      exit_status_ = st;
      return exit_status_;
    }
    if (rc < 0 && errno != EINTR) {
      ADD_FAILURE() << "waitpid(jobd) failed: " << std::strerror(errno);
      return std::nullopt;
    }
    if (now_ms() >= deadline)
      return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void jobd_process::kill_signal(int sig) {
  if (pid_ > 0 && !exit_status_) {
    if (sig == SIGKILL)
      killed_by_us_ = true;
    ::kill(pid_, sig);
  }
}

// -- job helpers
// -----------------------------------------------------------------

std::string jobd_process::submit(const std::string& args_json) {
  auto r = tool("console_execute_async", args_json);
  if (!r.ok()) {
    ADD_FAILURE() << "console_execute_async " << args_json.substr(0, 300)
                  << " failed: " << r.dump();
    return "";
  }
  return str(*r, "jobId");
}

std::string jobd_process::submit(const std::string& command,
                                 const std::string& args_array,
                                 const std::string& options_object) {
  return submit("{\"command\":" + q(command) + ",\"args\":" + args_array
                + ",\"options\":" + options_object + "}");
}

std::string jobd_process::submit_sh(const std::string& script,
                                    const std::string& options_object) {
  return submit("sh", "[\"-c\"," + q(script) + "]", options_object);
}

tool_result jobd_process::status(const std::string& job_id) {
  return tool("console_get_job_status", "{\"jobId\":" + q(job_id) + "}");
}

static bool terminal(const std::string& s) {
  return s == "completed" || s == "failed" || s == "cancelled";
}

tool_result jobd_process::wait_terminal(const std::string& job_id,
                                        int timeout_ms) {
  auto deadline = now_ms() + timeout_ms;
  for (;;) {
    auto r = status(job_id);
    if (!r.ok()) {
      ADD_FAILURE() << "status of " << job_id << " failed: " << r.dump();
      return r;
    }
    auto* s = at(*r, "job.status");
    if (s && s->IsString() && terminal(s->GetString()))
      return r;
    if (now_ms() >= deadline) {
      ADD_FAILURE() << "job " << job_id << " not finished within " << timeout_ms
                    << " ms: " << r.dump();
      return r;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

tool_result jobd_process::wait_running(const std::string& job_id,
                                       int timeout_ms) {
  auto deadline = now_ms() + timeout_ms;
  for (;;) {
    auto r = status(job_id);
    if (!r.ok()) {
      ADD_FAILURE() << "status of " << job_id << " failed: " << r.dump();
      return r;
    }
    auto* s = at(*r, "job.status");
    auto* pid = at(*r, "job.pid");
    bool has_pid = pid && pid->IsInt64() && pid->GetInt64() > 0;
    // Running with its pid known (jobd may report running a moment before
    // the pid), or already over.
    if (s && s->IsString() && std::string(s->GetString()) != "pending"
        && (has_pid || std::string(s->GetString()) != "running"))
      return r;
    if (now_ms() >= deadline) {
      ADD_FAILURE() << "job " << job_id << " not running within " << timeout_ms
                    << " ms: " << r.dump();
      return r;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::vector<std::pair<std::string, std::string>>
jobd_process::all_output(const std::string& job_id, const std::string& extra) {
  std::vector<std::pair<std::string, std::string>> chunks;
  int64_t since = 0;
  for (int i = 0; i < 10000; ++i) {
    auto r = tool("console_get_job_output",
                  "{\"jobId\":" + q(job_id) + ",\"options\":{\"since\":"
                    + std::to_string(since) + ",\"maxBytes\":1048576"
                    + (extra.empty() ? "" : "," + extra) + "}}");
    if (!r.ok()) {
      ADD_FAILURE() << "console_get_job_output failed: " << r.dump();
      break;
    }
    auto* out = at(*r, "output");
    if (out == nullptr || !out->IsArray()) {
      ADD_FAILURE() << "no output array: " << r.dump();
      break;
    }
    for (auto& c : out->GetArray())
      chunks.emplace_back(str(c, "type"), str(c, "content"));
    auto* complete = at(*r, "complete");
    if (complete && complete->IsBool() && complete->GetBool())
      break;
    if (out->Size() == 0)
      break;
    auto next = num(*r, "nextSince");
    if (next <= since) {
      ADD_FAILURE() << "nextSince did not advance: " << r.dump();
      break;
    }
    since = next;
  }
  return chunks;
}

std::string jobd_process::output_text(const std::string& job_id,
                                      const std::string& stream) {
  std::string text;
  for (auto& c : all_output(job_id))
    if (stream.empty() || c.first == stream)
      text += c.second;
  return text;
}

} // namespace jobd_it
