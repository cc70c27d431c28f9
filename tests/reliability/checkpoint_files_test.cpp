// Issue 19 for checkpoint files: a non-finite model is never saved; a save
// refuses to replace anything but a regular file (a symbolic link's target
// is replaced, the link stays); a temporary file left by a dead process is
// removed at the next save, a live one's is not; loading refuses a FIFO, a
// device or a directory without blocking; file contents are escaped in
// messages.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "../test_support.hpp"
#include "child_process.hpp"
#include "scvae/io/checkpoint.hpp"
#include "scvae/optim/adam.hpp"
#include "scvae/train/checkpointing.hpp"

namespace scvae {
namespace {

namespace fs = std::filesystem;

std::vector<unsigned char> read_bytes(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), {});
}

void write_text(const std::string& file, const std::string& text) {
  std::ofstream(file, std::ios::binary) << text;
}

#define EXPECT_CONTAINS(text, needle) \
  EXPECT_NE(std::string(text).find(needle), std::string::npos) << (text)

Vector<float> some_parameters(float base = 0.5f) {
  Vector<float> v(6);
  v << base, -1.0f, 2.0f, 0.25f, 3.0f, -4.0f;
  return v;
}

/// A pid that belonged to a process which has exited and been reaped.
pid_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return pid;
}

TEST(CheckpointFiles, NonFiniteParametersAreNotSavedAndThePreviousFileIsKept) {
  testing::TempDir dir;
  const std::string file = (dir.path / "model.scvae").string();
  save_checkpoint(file, "arch", some_parameters());
  const auto before = read_bytes(file);
  for (const float bad :
       {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    Vector<float> parameters = some_parameters(2.0f);
    parameters(3) = bad;
    const std::string message =
        testing::thrown_message<NumericalError>([&] { save_checkpoint(file, "arch", parameters); });
    EXPECT_CONTAINS(message, file);
    EXPECT_CONTAINS(message, "1 of its 6 parameters are not finite");
    EXPECT_CONTAINS(message, "index 3");
  }
  EXPECT_EQ(read_bytes(file), before);
  EXPECT_FALSE(fs::exists(detail::checkpoint_temp_path(file)));
}

struct TinyModel {
  using Scalar = float;
  Vector<float> params = some_parameters();
  std::string architecture() const { return "tiny"; }
  Vector<float>& parameters() { return params; }
  const Vector<float>& parameters() const { return params; }
};

TEST(CheckpointFiles, NonFiniteOptimizerStateIsNotSaved) {
  testing::TempDir dir;
  const std::string file = (dir.path / "run.scvae").string();
  TinyModel model;
  Adam adam;
  Vector<float> gradient = Vector<float>::Ones(6);
  adam.step(model.parameters(), gradient);
  save_training_checkpoint(file, model, adam, 1);
  const auto before = read_bytes(file);

  gradient(2) = std::numeric_limits<float>::infinity();
  Adam diverged;
  TinyModel copy;
  diverged.step(copy.parameters(), gradient);  // the moments see the infinity
  copy.params = some_parameters(1.0f);         // but the parameters are finite
  const std::string message = testing::thrown_message<NumericalError>(
      [&] { save_training_checkpoint(file, copy, diverged, 2); });
  EXPECT_CONTAINS(message, "optimizer state");
  EXPECT_CONTAINS(message, file);
  EXPECT_EQ(read_bytes(file), before);
}

// save_training_checkpoint writes the optimizer's moments from the
// optimizer's own memory (no float64 copy): the file must be byte for byte
// the one the copying path writes, with the caller's extras sorting before,
// between and after the library's names.
TEST(CheckpointFiles, OptimizerStateWrittenInPlaceEqualsTheCopiedOne) {
  testing::TempDir dir;
  TinyModel model;
  Adam adam;
  Vector<float> gradient = Vector<float>::LinSpaced(6, -1.0f, 2.0f);
  for (int step = 0; step < 3; ++step) adam.step(model.parameters(), gradient);
  CheckpointExtras own;
  own.set_scalar("a.first", 1.5);
  own.set_vector("adam.extra", Vector<float>::Constant(2, 0.25f));
  own.set_bytes("zz.last", {1, 2, 3});
  const std::string in_place = (dir.path / "in_place.scvae").string();
  save_training_checkpoint(in_place, model, adam, 7, own);

  CheckpointExtras copied = own;
  copied.set_scalar("epochs_done", 7);
  save_optimizer_state(adam, copied);
  const std::string through_copy = (dir.path / "copied.scvae").string();
  save_model(through_copy, model, copied);
  EXPECT_EQ(read_bytes(in_place), read_bytes(through_copy));

  // A moment the caller left in its extras is replaced by the optimizer's.
  CheckpointExtras stale = own;
  stale.set_vector("adam.first_moment", Vector<float>::Zero(6));
  const std::string replaced = (dir.path / "replaced.scvae").string();
  save_training_checkpoint(replaced, model, adam, 7, stale);
  EXPECT_EQ(read_bytes(replaced), read_bytes(through_copy));
}

TEST(CheckpointFiles, SaveOntoAFifoIsRefusedAndTheFifoStays) {
  testing::TempDir dir;
  const std::string fifo = (dir.path / "pipe").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string message =
      testing::thrown_message<IoError>([&] { save_checkpoint(fifo, "arch", some_parameters()); });
  EXPECT_CONTAINS(message, fifo);
  EXPECT_CONTAINS(message, "FIFO");
  struct stat status {};
  ASSERT_EQ(::lstat(fifo.c_str(), &status), 0);
  EXPECT_TRUE(S_ISFIFO(status.st_mode)) << "the FIFO was replaced";
}

TEST(CheckpointFiles, SaveOntoADeviceNodeIsRefused) {
  testing::TempDir dir;
  const std::string device = (dir.path / "null").string();
  // A copy of /dev/null (needs CAP_MKNOD), so a broken build cannot harm the real one.
  if (::mknod(device.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0)
    GTEST_SKIP() << "mknod is not permitted here";
  const std::string message =
      testing::thrown_message<IoError>([&] { save_checkpoint(device, "arch", some_parameters()); });
  EXPECT_CONTAINS(message, device);
  EXPECT_CONTAINS(message, "character device");
  struct stat status {};
  ASSERT_EQ(::lstat(device.c_str(), &status), 0);
  EXPECT_TRUE(S_ISCHR(status.st_mode)) << "the device node was replaced";
}

TEST(CheckpointFiles, SaveThroughASymlinkReplacesItsTargetAndKeepsTheLink) {
  testing::TempDir dir;
  fs::create_directories(dir.path / "runs");
  const std::string target = (dir.path / "runs" / "model.scvae").string();
  const std::string link = (dir.path / "latest.scvae").string();
  save_checkpoint(target, "arch", some_parameters(1.0f));
  fs::create_symlink(target, link);
  save_checkpoint(link, "arch", some_parameters(7.0f));
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(load_checkpoint<float>(target, "arch")(0), 7.0f);
  EXPECT_FALSE(fs::exists(detail::checkpoint_temp_path(target)));
  EXPECT_FALSE(fs::exists(fs::symlink_status(detail::checkpoint_temp_path(link))));
}

TEST(CheckpointFiles, SaveThroughASymlinkToADeviceOrNowhereIsRefused) {
  testing::TempDir dir;
  const std::string to_null = (dir.path / "to_null").string();
  fs::create_symlink("/dev/null", to_null);
  std::string message = testing::thrown_message<IoError>(
      [&] { save_checkpoint(to_null, "arch", some_parameters()); });
  EXPECT_CONTAINS(message, to_null);
  EXPECT_CONTAINS(message, "character device");
  EXPECT_TRUE(fs::is_symlink(to_null));

  const std::string dangling = (dir.path / "dangling").string();
  fs::create_symlink((dir.path / "missing" / "file").string(), dangling);
  message = testing::thrown_message<IoError>(
      [&] { save_checkpoint(dangling, "arch", some_parameters()); });
  EXPECT_CONTAINS(message, dangling);
  EXPECT_CONTAINS(message, "symbolic link");
}

TEST(CheckpointFiles, ADeadProcessesTemporaryFileIsRemovedAtTheNextSave) {
  testing::TempDir dir;
  const std::string file = (dir.path / "model.scvae").string();
  const std::string stale = detail::temp_path_for(file, dead_pid());
  const std::string live = detail::temp_path_for(file, ::getppid());
  const std::string stale_directory = detail::temp_path_for(file, dead_pid());
  const std::string other_file = file + ".tmp-12x";
  write_text(stale, "half a checkpoint");
  write_text(live, "being written by a live process");
  fs::create_directory(stale_directory);
  write_text(other_file, "not our naming");
  save_checkpoint(file, "arch", some_parameters());
  EXPECT_FALSE(fs::exists(stale)) << "the dead process's temporary file stayed";
  EXPECT_TRUE(fs::exists(live)) << "a live process's temporary file was removed";
  EXPECT_TRUE(fs::is_directory(stale_directory)) << "only regular files are removed";
  EXPECT_TRUE(fs::exists(other_file));
  EXPECT_EQ(load_checkpoint<float>(file, "arch")(0), 0.5f);
}

TEST(CheckpointFiles, LoadingAFifoIsRefusedWithoutBlocking) {
  testing::TempDir dir;
  const std::string fifo = (dir.path / "pipe").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // In a child with an alarm: a blocking open() would wait for a writer for ever.
  const testing::ChildOutcome outcome = testing::run_in_child([&] {
    int refused = 0;
    for (const auto& load : std::vector<std::function<void()>>{
             [&] { load_checkpoint<float>(fifo, "arch"); }, [&] { read_checkpoint_info(fifo); },
             [&] {
               TinyModel model;
               Adam adam;
               load_training_checkpoint(fifo, model, adam);
             }}) {
      try {
        load();
      } catch (const IoError& error) {
        const std::string message = error.what();
        if (message.find(fifo) != std::string::npos && message.find("FIFO") != std::string::npos)
          ++refused;
      } catch (...) {
      }
    }
    return refused == 3 ? 0 : 1;
  });
  EXPECT_TRUE(outcome.exited && outcome.code == 0) << outcome.describe();
}

TEST(CheckpointFiles, LoadingADirectoryOrDeviceIsRefused) {
  testing::TempDir dir;
  const std::string message =
      testing::thrown_message<IoError>([&] { load_checkpoint<float>(dir.path.string(), "arch"); });
  EXPECT_CONTAINS(message, dir.path.string());
  EXPECT_CONTAINS(message, "directory");
  const std::string device =
      testing::thrown_message<IoError>([&] { load_checkpoint<float>("/dev/zero", "arch"); });
  EXPECT_CONTAINS(device, "/dev/zero");
  EXPECT_CONTAINS(device, "character device");
}

TEST(CheckpointFiles, FileContentsAreEscapedInMessages) {
  testing::TempDir dir;
  const std::string file = (dir.path / "model.scvae").string();
  save_checkpoint(file, "evil\x1b[2J\x07 arch\n", some_parameters());
  const std::string message =
      testing::thrown_message<CheckpointError>([&] { load_checkpoint<float>(file, "tiny"); });
  EXPECT_CONTAINS(message, "evil\\x1b[2J\\x07 arch\\n");
  for (const char c : message) EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20) << message;
}

TEST(Printable, EscapesControlCharactersOnly) {
  EXPECT_EQ(detail::printable("plain text, UTF-8: \xc3\xa9"), "plain text, UTF-8: \xc3\xa9");
  EXPECT_EQ(detail::printable(std::string("a\x1b[31mb\0c\x7f", 10)), "a\\x1b[31mb\\x00c\\x7f");
  EXPECT_EQ(detail::printable("tab\there\r\n"), "tab\\there\\r\\n");
  EXPECT_EQ(detail::printable("back\\slash"), "back\\\\slash");
}

}  // namespace
}  // namespace scvae

// The folder's files share one translation unit (tests/CMakeLists.txt).
#undef EXPECT_CONTAINS
