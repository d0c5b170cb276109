#include "actors/kinds/process/clone_into.hpp"

#include "actors/kinds/process/child_setup.hpp"

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace jobd {

#if defined(__x86_64__) && defined(SYS_clone3)

namespace {

// The kernel's struct clone_args up to `cgroup` (CLONE_ARGS_SIZE_VER2),
// spelled out: glibc 2.36 has no header for it, and <linux/sched.h>
// clashes with <sched.h>.
struct clone3_args {
  uint64_t flags;
  uint64_t pidfd;
  uint64_t child_tid;
  uint64_t parent_tid;
  uint64_t exit_signal;
  uint64_t stack;
  uint64_t stack_size;
  uint64_t tls;
  uint64_t set_tid;
  uint64_t set_tid_size;
  uint64_t cgroup;
};
static_assert(sizeof(clone3_args) == 88, "CLONE_ARGS_SIZE_VER2");

constexpr uint64_t flag_vm = 0x100;                // CLONE_VM
constexpr uint64_t flag_vfork = 0x4000;            // CLONE_VFORK
constexpr uint64_t flag_into_cgroup = 0x200000000; // CLONE_INTO_CGROUP

/// The child's stack: it shares our memory, so it must not run on our
/// stack (it would overwrite the frames we return through). One per
/// thread, made on first use; a guard page below it.
constexpr size_t stack_size = 64 * 1024;
constexpr size_t guard_size = 4096;

struct child_stack {
  void* base = nullptr;
  ~child_stack() {
    if (base != nullptr)
      ::munmap(base, stack_size + guard_size);
  }
  /// The usable range [low, low + stack_size), or null.
  char* low() {
    if (base == nullptr) {
      void* p = ::mmap(nullptr, stack_size + guard_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
      if (p == MAP_FAILED)
        return nullptr;
      ::mprotect(p, guard_size, PROT_NONE);
      base = p;
    }
    return static_cast<char*>(base) + guard_size;
  }
};

thread_local child_stack stack_of_thread;

struct child_args {
  const clone_into_request* req;
  /// Written by the child (our memory) if a step before exec failed.
  int error;
  confine_failure confine_failed;
};

/// Runs in the child, on its own stack, with every signal blocked, until
/// execve. Plain system calls only; not instrumented (an instrumented frame
/// would leave poisoned shadow memory behind on a stack that is reused).
JOBD_CHILD_CODE int child_main(void* p) {
  auto* args = static_cast<child_args*>(p);
  const clone_into_request& r = *args->req;
  if (::dup2(r.stdin_fd, STDIN_FILENO) < 0
      || ::dup2(r.stdout_fd, STDOUT_FILENO) < 0
      || ::dup2(r.stderr_fd, STDERR_FILENO) < 0) {
    args->error = errno;
    return 127;
  }
  reset_signals_in_child();
  // Own process group (or session), so the job can signal the whole tree.
  const int lead
    = r.new_session ? lead_session_in_child() : lead_group_in_child();
  if (lead != 0) {
    args->error = lead;
    return 127;
  }
  // The directory checked at start, by its descriptor (closed below).
  if (r.working_directory_fd >= 0 && ::fchdir(r.working_directory_fd) != 0) {
    args->error = errno;
    return 127;
  }
  // Before the descriptors are closed: the ruleset's is among them.
  if (r.confine != nullptr) {
    if (const int error = confine_in_child(*r.confine, args->confine_failed)) {
      args->error = error;
      return 127;
    }
  }
  close_from_in_child(STDERR_FILENO + 1);
  if (r.confine != nullptr) {
    if (const int error
        = limit_files_in_child(*r.confine, args->confine_failed)) {
      args->error = error;
      return 127;
    }
  }
  if (r.working_directory_fd < 0 && r.working_directory != nullptr
      && r.working_directory[0] != '\0' && ::chdir(r.working_directory) != 0) {
    args->error = errno;
    return 127;
  }
  ::execve(r.executable, const_cast<char* const*>(r.argv),
           const_cast<char* const*>(r.envp));
  args->error = errno != 0 ? errno : ENOEXEC;
  return 127;
}

} // namespace

// long jobd_clone3_vfork(clone3_args* args, size_t size, int (*fn)(void*),
//                        void* arg): clone3; the parent returns its result
// (the pid, or -errno); the child, on the stack given in `args`, calls
// fn(arg) and exits with its result. r8 and r9 survive the syscall.
extern "C" long jobd_clone3_vfork(clone3_args*, size_t, int (*)(void*), void*);
__asm__(".text\n"
        ".globl jobd_clone3_vfork\n"
        ".hidden jobd_clone3_vfork\n"
        ".type jobd_clone3_vfork, @function\n"
        "jobd_clone3_vfork:\n"
        "  mov %rdx, %r8\n"
        "  mov %rcx, %r9\n"
        "  mov $435, %eax\n" // SYS_clone3
        "  syscall\n"
        "  test %rax, %rax\n"
        "  jz 1f\n"
        "  ret\n"
        "1:\n"
        "  xor %ebp, %ebp\n"
        "  and $-16, %rsp\n"
        "  mov %r9, %rdi\n"
        "  call *%r8\n"
        "  mov %eax, %edi\n"
        "  mov $231, %eax\n" // SYS_exit_group
        "  syscall\n"
        "  hlt\n"
        ".size jobd_clone3_vfork, .-jobd_clone3_vfork\n");
static_assert(SYS_clone3 == 435, "x86-64 clone3");

bool clone_into_supported() {
  return true;
}

clone_into_result clone_into(const clone_into_request& req) {
  clone_into_result result;
  char* low = stack_of_thread.low();
  if (low == nullptr) {
    result.clone_error = ENOMEM;
    return result;
  }
  child_args args{&req, 0, {}};
  clone3_args ca{};
  ca.flags = flag_vm | flag_vfork | flag_into_cgroup;
  ca.exit_signal = SIGCHLD;
  ca.stack = reinterpret_cast<uint64_t>(low);
  ca.stack_size = stack_size;
  ca.cgroup = static_cast<uint64_t>(req.cgroup_fd);
  // Until the child reset them, no handler of ours may run in it.
  sigset_t all;
  sigset_t old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  const long ret = jobd_clone3_vfork(&ca, sizeof ca, child_main, &args);
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (ret < 0) {
    result.clone_error = static_cast<int>(-ret);
    return result;
  }
  // CLONE_VFORK: the child has exec'd or is exiting by now.
  result.pid = static_cast<pid_t>(ret);
  result.exec_error = args.error;
  result.confine_failed = args.confine_failed;
  return result;
}

#else

bool clone_into_supported() {
  return false;
}

clone_into_result clone_into(const clone_into_request&) {
  clone_into_result result;
  result.clone_error = ENOSYS;
  return result;
}

#endif

bool clone_into_unavailable(int clone_error) {
  // clone3 or CLONE_INTO_CGROUP missing (ENOSYS, E2BIG, EINVAL) or
  // forbidden (EPERM: seccomp); or a cgroup we may not start children in
  // (EACCES, EBUSY, EOPNOTSUPP, ENOENT, EBADF), which the vfork launcher
  // then meets on its cgroup.procs write and answers by tracking process
  // groups. EAGAIN and ENOMEM are a failed launch, not a missing feature.
  switch (clone_error) {
    case ENOSYS:
    case E2BIG:
    case EINVAL:
    case EPERM:
    case EACCES:
    case EBUSY:
    case EOPNOTSUPP:
    case ENOENT:
    case EBADF:
      return true;
    default:
      return false;
  }
}

} // namespace jobd
