// Test helpers shared across the areas' tests: the message of an expected exception and what it
// must mention.
#pragma once

#include <gtest/gtest.h>

#include <exception>
#include <string>
#include <utility>
#include <vector>

namespace nce::testing {

// What `call` throws as an E: its what(); "" when it returns normally. An exception of another
// type propagates (and fails the test).
template <class E = std::exception, class Call>
std::string what_thrown(Call&& call) {
  try {
    std::forward<Call>(call)();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

// The same for a call that must throw: a failure that shows `context` when it returns normally.
template <class E = std::exception, class Call>
std::string what_must_throw(const std::string& context, Call&& call) {
  try {
    std::forward<Call>(call)();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "no exception: " << context;
  return "";
}

// Every one of `parts` is in `message` (a failure for each one missing, showing the message).
inline void expect_mentions(const std::string& message, const std::vector<std::string>& parts) {
  for (const std::string& part : parts)
    EXPECT_NE(message.find(part), std::string::npos)
        << "'" << message << "' lacks '" << part << "'";
}

}  // namespace nce::testing
