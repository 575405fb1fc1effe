#include "kubelet/volumes/atomic_writer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include <fmt/format.h>

namespace switchyard::kubelet {

namespace fs = std::filesystem;

namespace {

constexpr const char* kDataLink = "..data";
constexpr const char* kNewDataLink = "..data_tmp";

Error io_error(const std::string& what, const fs::path& p, const std::error_code& ec) {
  return Error{ErrorCode::Internal, fmt::format("{} {}: {}", what, p.string(), ec.message())};
}

// Whether the directory holds exactly the payload (content and mode).
bool holds(const fs::path& dir, const Payload& payload) {
  std::error_code ec;
  std::size_t files = 0;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->is_regular_file()) ++files;
  if (ec || files != payload.size()) return false;
  for (const auto& [path, file] : payload) {
    struct stat st {};
    const fs::path p = dir / path;
    if (::lstat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0777) != file.mode) return false;
    std::ifstream in(p, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (text.str() != file.data) return false;
  }
  return true;
}

std::string top_level(const std::string& path) { return path.substr(0, path.find('/')); }

}  // namespace

Result<bool> write_atomically(const std::string& target, const Payload& payload) {
  const fs::path dir(target);
  std::error_code ec;
  const fs::path data_link = dir / kDataLink;
  const fs::path old_link_target = fs::read_symlink(data_link, ec);
  const bool had_data = !ec;
  if (had_data && holds(dir / old_link_target, payload)) return false;

  // 1. The new files, in a directory no reader looks at yet.
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const std::string ts_name = fmt::format("..{}", std::chrono::duration_cast<std::chrono::nanoseconds>(now).count());
  const fs::path ts_dir = dir / ts_name;
  fs::create_directory(ts_dir, ec);
  if (ec) return fail(io_error("creating", ts_dir, ec));
  ::chmod(ts_dir.c_str(), 0755);
  for (const auto& [path, file] : payload) {
    const fs::path p = ts_dir / path;
    fs::create_directories(p.parent_path(), ec);
    if (ec) return fail(io_error("creating", p.parent_path(), ec));
    {
      std::ofstream out(p, std::ios::binary | std::ios::trunc);
      out << file.data;
      if (!out) return fail(Error{ErrorCode::Internal, fmt::format("writing {}", p.string())});
    }
    if (::chmod(p.c_str(), file.mode) != 0) return fail(Error{ErrorCode::Internal, fmt::format("chmod {}", p.string())});
  }
  // 2. One rename(2) makes every file of the new version visible at once.
  const fs::path tmp_link = dir / kNewDataLink;
  fs::remove(tmp_link, ec);
  fs::create_directory_symlink(ts_name, tmp_link, ec);
  if (ec) return fail(io_error("linking", tmp_link, ec));
  fs::rename(tmp_link, data_link, ec);
  if (ec) return fail(io_error("renaming", tmp_link, ec));
  // 3. The names users see: `key` -> `..data/key`.
  std::set<std::string> names;
  for (const auto& [path, file] : payload) names.insert(top_level(path));
  for (const auto& name : names) {
    const fs::path link = dir / name;
    if (fs::is_symlink(fs::symlink_status(link, ec))) continue;
    fs::create_symlink(fs::path(kDataLink) / name, link, ec);
    if (ec) return fail(io_error("linking", link, ec));
  }
  // 4. What the old version had and this one has not.
  std::vector<fs::path> stale;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name == kDataLink || name == ts_name) continue;
    if (name.starts_with("..") || !names.contains(name)) stale.push_back(it->path());
  }
  for (const auto& p : stale) fs::remove_all(p, ec);
  return true;
}

}  // namespace switchyard::kubelet
