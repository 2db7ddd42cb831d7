#pragma once
// Durable filesystem steps shared by the blob store and the upload staging area.
#include <filesystem>

namespace sharebox::storage::fsu {

// ENOSPC/EDQUOT become domain storage_full (507); anything else a std::system_error.
[[noreturn]] void throw_io(const char* what, int err);
void fsync_dir(const std::filesystem::path& dir);
// Creates `dir` (one level) durably: the new entry in its parent is fsynced too.
void ensure_dir(const std::filesystem::path& dir);

}  // namespace sharebox::storage::fsu
