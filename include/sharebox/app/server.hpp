#pragma once
#include "sharebox/app/config.hpp"

namespace sharebox::app {

// Opens the data dir, serves until SIGINT/SIGTERM, then drains in-flight requests up to the
// shutdown deadline. Returns the process exit code.
int serve(const config& cfg);

}  // namespace sharebox::app
