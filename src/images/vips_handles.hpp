#pragma once
// Owning handles for libvips/GLib objects, private to src/images. libvips reports results through
// out-parameters; `out_param` collects one and owns it whatever the call returned, so no path
// leaks a reference.
#include <vips/vips.h>

#include <memory>
#include <string>

namespace sharebox::images::detail {

struct gobject_unref {
  void operator()(gpointer object) const noexcept { g_object_unref(object); }
};
struct g_free_deleter {
  void operator()(gpointer memory) const noexcept { g_free(memory); }
};

using image_ptr = std::unique_ptr<VipsImage, gobject_unref>;
using source_ptr = std::unique_ptr<VipsSource, gobject_unref>;
template <class T>
using g_memory_ptr = std::unique_ptr<T, g_free_deleter>;
struct g_strfreev_deleter {
  void operator()(gchar** strings) const noexcept { g_strfreev(strings); }
};
using g_strv_ptr = std::unique_ptr<gchar*[], g_strfreev_deleter>;

// Calls `fn(VipsImage**)` (a libvips operation) and returns the image it produced, or null when
// it failed (rc != 0). The caller reads the failure from libvips' error buffer.
template <class F>
image_ptr out_image(F&& fn) {
  VipsImage* raw = nullptr;
  const int rc = fn(&raw);
  image_ptr image(raw);
  if (rc != 0) image.reset();
  return image;
}

// Takes (and clears) libvips' error text. The buffer is one per process: under concurrency it
// may hold other calls' messages as well, so use it for logs, never for control flow.
inline std::string take_vips_error() {
  g_memory_ptr<char> text(vips_error_buffer_copy());
  std::string message = text ? text.get() : "";
  while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
    message.pop_back();
  return message;
}

}  // namespace sharebox::images::detail
