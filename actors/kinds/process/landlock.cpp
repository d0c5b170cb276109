#include "actors/kinds/process/landlock.hpp"

#include "actors/kinds/process/child_setup.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

// Older libc and kernel headers lack the calls or the newer rights.
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif
#ifndef SYS_landlock_add_rule
#define SYS_landlock_add_rule 445
#endif
#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446
#endif
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif

namespace jobd {

namespace {

using access_mask = uint64_t;

constexpr access_mask abi1_rights
  = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE
    | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR
    | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE
    | LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR
    | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK
    | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK
    | LANDLOCK_ACCESS_FS_MAKE_SYM;

/// The only rights a rule on a non-directory may carry (else EINVAL).
constexpr access_mask file_rights
  = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE
    | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE
    | LANDLOCK_ACCESS_FS_IOCTL_DEV;

/// Every file-system right the kernel's ABI knows. Network (ABI 4) and
/// scope (ABI 6) rights are deliberately not handled: a sandboxed job
/// keeps its network, its abstract UNIX sockets and its signals; only
/// file-system access is confined.
access_mask handled_rights(int32_t abi) {
  access_mask rights = abi1_rights;
  if (abi >= 2)
    rights |= LANDLOCK_ACCESS_FS_REFER;
  if (abi >= 3)
    rights |= LANDLOCK_ACCESS_FS_TRUNCATE;
  if (abi >= 5)
    rights |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
  return rights;
}

/// Devices every job may read and write, whatever its sandbox; /dev/pts
/// covers the terminals beneath it (a job's pty slave, reopened by path).
const char* const device_paths[]
  = {"/dev/null", "/dev/zero",   "/dev/full",    "/dev/tty",
     "/dev/ptmx", "/dev/random", "/dev/urandom", "/dev/pts"};

int32_t query_abi() {
  long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0,
                       LANDLOCK_CREATE_RULESET_VERSION);
  // ENOSYS (not built in), EOPNOTSUPP (disabled at boot), anything else.
  return abi > 0 ? static_cast<int32_t>(abi) : 0;
}

class fd_guard {
public:
  explicit fd_guard(int fd) : fd_(fd) {}
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  ~fd_guard() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  int get() const {
    return fd_;
  }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

private:
  int fd_;
};

std::string errno_text(int err) {
  return std::strerror(err);
}

enum class missing { is_error, is_skipped };

/// Adds a path-beneath rule granting `rights` (masked to the file rights
/// when `path` is not a directory). False with the reason in `error`; a
/// missing path is skipped instead where `if_missing` says so.
bool add_path_rule(int ruleset_fd, const std::string& path, access_mask rights,
                   missing if_missing, const char* role, std::string& error) {
  fd_guard fd{::open(path.c_str(), O_PATH | O_CLOEXEC)};
  if (fd.get() < 0) {
    int err = errno;
    if (if_missing == missing::is_skipped && (err == ENOENT || err == ENOTDIR))
      return true;
    error = "cannot open " + path + " (" + role
            + ") for the Landlock sandbox: " + errno_text(err);
    return false;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    error = "cannot stat " + path
            + " for the Landlock sandbox: " + errno_text(errno);
    return false;
  }
  if (!S_ISDIR(st.st_mode))
    rights &= file_rights;
  if (rights == 0)
    return true;
  landlock_path_beneath_attr attr{};
  attr.allowed_access = rights;
  attr.parent_fd = fd.get();
  if (::syscall(SYS_landlock_add_rule, ruleset_fd, LANDLOCK_RULE_PATH_BENEATH,
                &attr, 0)
      != 0) {
    error
      = "cannot add the Landlock rule for " + path + ": " + errno_text(errno);
    return false;
  }
  return true;
}

} // namespace

int32_t landlock_abi_version() {
  static const int32_t abi = query_abi();
  return abi;
}

int make_landlock_ruleset(const job_security& security, std::string& error) {
  const int32_t abi = landlock_abi_version();
  if (abi <= 0) {
    error = "this kernel has no Landlock: cannot sandbox the job";
    return -1;
  }
  const access_mask handled = handled_rights(abi);
  landlock_ruleset_attr attr{};
  attr.handled_access_fs = handled;
  // Newer headers add handled_access_net and scoped: left zero, which every
  // kernel accepts (only non-zero fields it does not know are refused).
  fd_guard ruleset{static_cast<int>(
    ::syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0))};
  if (ruleset.get() < 0) {
    error = "cannot create a Landlock ruleset: " + errno_text(errno);
    return -1;
  }
  for (auto& dir : security.writable)
    if (!add_path_rule(ruleset.get(), dir, handled, missing::is_error,
                       "a writable directory", error))
      return -1;
  // Reading, listing and running programs; IOCTL_DEV so that a terminal the
  // job opens (its own /dev/tty, say) still answers tcgetattr and friends.
  const access_mask read_rights
    = (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR
       | LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_IOCTL_DEV)
      & handled;
  if (security.readable.empty()) {
    if (!add_path_rule(ruleset.get(), "/", read_rights, missing::is_error,
                       "a readable directory", error))
      return -1;
  } else {
    for (auto& dir : security.readable)
      if (!add_path_rule(ruleset.get(), dir, read_rights, missing::is_error,
                         "a readable directory", error))
        return -1;
  }
  const access_mask device_rights
    = (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE
       | LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV)
      & handled;
  for (const char* dev : device_paths)
    if (!add_path_rule(ruleset.get(), dev, device_rights, missing::is_skipped,
                       "a device", error))
      return -1;
  return ruleset.release();
}

JOBD_CHILD_CODE int landlock_restrict_in_child(int ruleset_fd) {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return errno != 0 ? errno : EPERM;
  if (::syscall(SYS_landlock_restrict_self, ruleset_fd, 0) != 0)
    return errno != 0 ? errno : EPERM;
  return 0;
}

} // namespace jobd
