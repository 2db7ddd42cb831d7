// The harness itself: a sanitizer report printed by a child process fails the test that ran it
// (servers are SIGKILLed or stopped by the harness, so their exit status alone cannot tell).
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include "support/server_process.hpp"

namespace sharebox::test {
namespace {

TEST(Harness, SanitizerReportInChildOutputFailsTheTest) {
  EXPECT_NONFATAL_FAILURE(expect_no_sanitizer_report(
                              "log line\n==1==ERROR: LeakSanitizer: detected memory leaks\n"
                              "SUMMARY: AddressSanitizer: 8 byte(s) leaked in 1 allocation(s).\n",
                              "the server"),
                          "printed a sanitizer report");
  EXPECT_NONFATAL_FAILURE(expect_no_sanitizer_report(
                              "x.cpp:1:2: runtime error: signed integer overflow\n"
                              "SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior x.cpp:1:2\n",
                              "sharebox"),
                          "printed a sanitizer report");
  EXPECT_NONFATAL_FAILURE(
      run_program({"/bin/sh", "-c", "echo 'SUMMARY: ThreadSanitizer: data race' >&2"},
                  std::chrono::seconds(10)),
      "printed a sanitizer report");
  expect_no_sanitizer_report("sharebox: listening on http://127.0.0.1:1\n", "the server");
}

}  // namespace
}  // namespace sharebox::test
