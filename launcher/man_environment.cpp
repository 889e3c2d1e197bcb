// numa-agent-man-environment: numa-agent(1)'s ENVIRONMENT entries (roff), generated from the
// option table so the man page documents the defaults that are used. Checked by
// cmake/CheckGeneratedSection.cmake; not installed.
#include <cstdio>
#include <string>
#include <string_view>

#include "agent/options.hpp"

namespace {

// Text safe inside a roff paragraph: backslashes escaped, no line starting with a control character.
std::string roff_text(std::string_view s) {
  std::string out;
  for (char c : s) out += c == '\\' ? std::string("\\e") : std::string(1, c);
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out.insert(0, "\\&");
  return out;
}

}  // namespace

int main() {
  for (const auto& spec : numa_agent::option_table()) {
    std::string default_text = spec.default_text.empty() ? "empty" : "\\fB" + roff_text(spec.default_text) + "\\fR";
    if (!spec.unit.empty()) default_text += " " + roff_text(spec.unit);
    std::printf(".TP\n.B %s\n\\fI%s\\fR; default %s.\n%s\n", std::string(spec.variable).c_str(),
                roff_text(spec.type).c_str(), default_text.c_str(), roff_text(spec.help).c_str());
  }
  return 0;
}
