// What a recovering jobd does to a dead instance's cgroup parent: it ends
// and removes it only while the directory still carries the dead
// instance's id (a jobd with the same pid may own a directory of the same
// name by now), and finds the dead instance's jobs by their labels.
#include "actors/kinds/process/cgroup_tree.hpp"
#include "actors/store/instances.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <spawn.h>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace jobd {
namespace {

/// A directory below the test's own cgroup v2 ("" where none can be made).
std::string make_cgroup(const std::string& name) {
  std::string mount, own, line;
  std::ifstream mounts{"/proc/self/mounts"};
  while (mount.empty() && std::getline(mounts, line)) {
    auto a = line.find(' ');
    auto b = line.find(' ', a + 1);
    if (line.compare(b + 1, 8, "cgroup2 ") == 0)
      mount = line.substr(a + 1, b - a - 1);
  }
  std::ifstream self{"/proc/self/cgroup"};
  while (std::getline(self, line))
    if (line.rfind("0::", 0) == 0)
      own = line.substr(3);
  if (mount.empty() || own.empty())
    return {};
  auto dir = mount + (own == "/" ? "" : own) + "/" + name + "-"
             + std::to_string(::getpid());
  return ::mkdir(dir.c_str(), 0755) == 0 ? dir : std::string{};
}

void label(const std::string& dir, const char* name, const std::string& v) {
  ASSERT_EQ(::setxattr(dir.c_str(), name, v.data(), v.size(), 0), 0) << dir;
}

/// `sleep 30` started straight into the cgroup `dir`.
pid_t sleep_in(const std::string& dir) {
  pid_t pid = 0;
  char sleep_path[] = "/bin/sleep";
  char thirty[] = "30";
  char* argv[] = {sleep_path, thirty, nullptr};
  if (::posix_spawn(&pid, sleep_path, nullptr, nullptr, argv, environ) != 0)
    return 0;
  std::ofstream procs{dir + "/cgroup.procs"};
  procs << pid << std::flush;
  return procs ? pid : -pid;
}

bool exited(pid_t pid) {
  for (int i = 0; i < 200; ++i) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

bool exists(const std::string& dir) {
  struct stat st {};
  return ::stat(dir.c_str(), &st) == 0;
}

class dead_instance_cgroups : public ::testing::Test {
protected:
  void SetUp() override {
    parent = make_cgroup("jobd-instances-test");
    if (parent.empty())
      GTEST_SKIP() << "no writable cgroup v2 here";
    job = parent + "/tree-1";
    ASSERT_EQ(::mkdir(job.c_str(), 0755), 0);
    label(job, cgroup_files::job_label, "job-dead-1");
    pid = sleep_in(job);
    ASSERT_GT(pid, 0) << "could not start a process in " << job;
  }
  void TearDown() override {
    if (pid > 0) { // ours: started by SetUp
      ::kill(pid, SIGKILL);
      exited(pid);
    }
    ::rmdir(job.c_str());
    ::rmdir(parent.c_str());
  }
  std::string parent;
  std::string job;
  pid_t pid = 0;
};

TEST_F(dead_instance_cgroups, its_own_directory_is_ended_and_removed) {
  label(parent, cgroup_files::instance_label, "i-dead");
  auto found = find_job_cgroups(parent, "i-dead");
  ASSERT_EQ(found.count("job-dead-1"), 1u);
  EXPECT_EQ(found["job-dead-1"].front(), job);
  remove_cgroup_parent(parent, "i-dead");
  EXPECT_TRUE(exited(pid));
  pid = 0;
  EXPECT_FALSE(exists(job));
  EXPECT_FALSE(exists(parent));
}

TEST_F(dead_instance_cgroups, another_instances_directory_is_left_alone) {
  // A live jobd with the dead one's pid made a directory of the same name.
  label(parent, cgroup_files::instance_label, "i-live");
  EXPECT_TRUE(find_job_cgroups(parent, "i-dead").empty());
  auto left
    = kill_leftovers(find_job_cgroups(parent, "i-dead"), "job-dead-1", 0, "");
  EXPECT_FALSE(left.found);
  remove_cgroup_parent(parent, "i-dead");
  EXPECT_EQ(::kill(pid, 0), 0) << "a live instance's job was killed";
  EXPECT_TRUE(exists(job));
  EXPECT_TRUE(exists(parent));
}

TEST_F(dead_instance_cgroups, an_unlabelled_directory_is_only_removed_empty) {
  // An older jobd's: its jobs are found (here by label), the rest is not
  // killed, and the directory goes only once it is empty.
  auto found = find_job_cgroups(parent, "i-dead");
  ASSERT_EQ(found.count("job-dead-1"), 1u);
  remove_cgroup_parent(parent, "i-dead");
  EXPECT_EQ(::kill(pid, 0), 0);
  EXPECT_TRUE(exists(parent));
  auto left = kill_leftovers(found, "job-dead-1", 0, "");
  EXPECT_TRUE(left.found);
  EXPECT_TRUE(exited(pid));
  pid = 0;
  EXPECT_FALSE(exists(job));
  remove_cgroup_parent(parent, "i-dead");
  EXPECT_FALSE(exists(parent));
}

} // namespace
} // namespace jobd
