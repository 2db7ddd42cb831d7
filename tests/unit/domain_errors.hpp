#pragma once
#include <gtest/gtest.h>

#include <functional>

#include "sharebox/domain/errors.hpp"

// The code of the domain::error `fn` throws; a test failure if it throws none.
inline sharebox::domain::errc code_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const sharebox::domain::error& e) {
    return e.code();
  }
  ADD_FAILURE() << "no domain error";
  return sharebox::domain::errc::storage_full;
}
