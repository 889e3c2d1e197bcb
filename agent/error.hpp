// The one error type of numa-agent and numa-analyze. A fallible function returns Result<T>: a
// value, or an Error that says which call failed on what, with the errno behind it (0 when the
// failure is not an OS error, e.g. a malformed file). Callers decide what to print; nothing
// below the commands logs. The allocator's malloc-safe paths return a negative errno instead
// (an Error carries a std::string, which allocates).
//
// Result<T> is the subset of C++23's std::expected that the tree uses (bool test, *, ->,
// error()); our own because clang 14, which builds the fuzz and sanitizer trees, cannot compile
// libstdc++ 12's <expected>.
#pragma once
#include <concepts>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace numa_agent {

struct Error {
  int code = 0;        // errno value, or 0
  std::string what;    // "hwloc_topology_load", "/proc/12/stat: not a number"
};

// What `fail(...)` returns: converts to any Result<T>.
struct Failure {
  Error error;
};

inline Failure fail(int code, std::string what) { return Failure{Error{code, std::move(what)}}; }
inline Failure fail(Error error) { return Failure{std::move(error)}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  template <typename U = T>
    requires(std::constructible_from<T, U &&> && !std::same_as<std::remove_cvref_t<U>, Result> &&
             !std::same_as<std::remove_cvref_t<U>, Failure>)
  Result(U&& value) : state_(std::in_place_index<0>, std::forward<U>(value)) {}
  Result(Failure failure) : state_(std::in_place_index<1>, std::move(failure.error)) {}

  bool has_value() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& operator*() & { return *std::get_if<0>(&state_); }
  const T& operator*() const& { return *std::get_if<0>(&state_); }
  T&& operator*() && { return std::move(*std::get_if<0>(&state_)); }
  T* operator->() { return std::get_if<0>(&state_); }
  const T* operator->() const { return std::get_if<0>(&state_); }
  const Error& error() const& { return *std::get_if<1>(&state_); }

  T value_or(T fallback) const& { return has_value() ? **this : std::move(fallback); }

 private:
  std::variant<T, Error> state_;
};

// Result<void>: success, or an Error (`return {};` for success, `return fail(...)` otherwise).
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Failure failure) : error_(std::move(failure.error)), failed_(true) {}

  bool has_value() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return has_value(); }
  const Error& error() const& { return error_; }

 private:
  Error error_;
  bool failed_ = false;
};

}  // namespace numa_agent
