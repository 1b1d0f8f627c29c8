#include "data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "data/folder_files.h"
#include "data/image_io.h"
#include "data/skipped_files.h"

namespace kiln::data {
namespace fs = std::filesystem;

namespace {

bool is_image_file(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  for (const char* known : {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga", ".psd", ".pgm", ".ppm", ".pnm"})
    if (ext == known) return true;
  return false;
}

}  // namespace

ImageFolder load_image_folder(const std::string& root, const ImageFolderOptions& options) {
  KILN_CHECK(options.channels == 1 || options.channels == 3, "image folder: channels must be 1 or 3, got ",
             options.channels);
  KILN_CHECK(options.size >= 1 && options.size <= 4096, "image folder: image size ", options.size,
             " is out of range (1 to 4096)");
  KILN_CHECK(!fs::exists(root) || fs::is_directory(root), "image folder '", root, "' is a file, not a folder");
  KILN_CHECK(fs::is_directory(root), "image folder '", root, "' does not exist");
  FolderFiles found = folder_files(root, {.wanted = is_image_file});
  const std::vector<fs::path>& paths = found.files;

  ImageFolder folder;
  folder.skipped = std::move(found.skipped);
  const size_t left_out = folder.skipped.size();  // by the walk (links to folders, unreadable folders, ...)
  std::map<std::string, int64_t> class_index;
  auto class_of = [&](const fs::path& p) {  // the subfolder under root, "" for images in root itself
    const fs::path parent = p.parent_path().lexically_relative(root);
    return parent == "." ? std::string() : parent.string();
  };
  for (const fs::path& p : paths) class_index.emplace(class_of(p), 0);
  for (auto& [name, index] : class_index) {
    index = int64_t(folder.classes.size());
    folder.classes.push_back(name);
  }

  std::vector<float> pixels;
  std::vector<int64_t> labels;
  for (const fs::path& p : paths) {
    Image image;
    try {
      image = center_crop_resize(read_image(p.string(), options.channels), options.size);
    } catch (const Error& e) {
      folder.skipped.push_back(skip_reason(p.string(), e));
      continue;
    }
    append_planar(image, pixels);
    labels.push_back(class_index.at(class_of(p)));
    folder.files.push_back(p.string());
  }
  KILN_CHECK(!labels.empty(), "image folder '", root, "' has no usable images (", paths.size(),
             " image files found, ", folder.skipped.size() - left_out, " could not be decoded",
             left_out ? ", " + std::to_string(left_out) + " other entries left out" : std::string(), ")",
             first_skipped(folder.skipped));
  const int64_t n = int64_t(labels.size());
  folder.data.images = from_vector(pixels, {n, options.channels, options.size, options.size});
  folder.data.labels = from_vector(labels, {n}, {.dtype = DType::Int64});
  return folder;
}

}  // namespace kiln::data
