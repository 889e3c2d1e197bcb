// numa_report_check REPORT.json TRUTH.json [--tolerance T]: compares numa-analyze's report with a
// numa_traffic run's known answer (remote share within T, default 0.05; the top recommendation;
// none for a well-placed run). Prints one PASS/FAIL line with the measured figures. Runs in the
// busybox guests, hence C++ and not a script.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: numa_report_check REPORT.json TRUTH.json [--tolerance T]\n");
    return 2;
  }
  double tolerance = argc >= 5 && std::string(argv[3]) == "--tolerance" ? std::atof(argv[4]) : 0.05;
  nlohmann::json report, truth;
  try {
    std::ifstream r(argv[1]), t(argv[2]);
    report = nlohmann::json::parse(r);
    truth = nlohmann::json::parse(t);
  } catch (const std::exception& e) {
    std::printf("FAIL: cannot read %s / %s: %s\n", argv[1], argv[2], e.what());
    return 1;
  }
  std::string scenario = truth.value("scenario", "?");
  const auto& locality = report["components"]["locality"];
  const auto& recs = report["recommendations"];
  std::string top = recs.empty() ? "none" : recs[0].value("kind", "?");
  std::string want_top = truth.value("top", "none");
  double want = truth.value("remote_share", 0.0);
  bool ok = locality.is_number();
  double measured = ok ? 1.0 - locality.get<double>() : NAN;
  ok = ok && std::fabs(measured - want) <= tolerance + 1e-9;
  bool top_ok = top == want_top;
  std::printf("%s %s: remote share %.3f (truth %.3f, bytes-weighted %.3f, +-%.2f) from %s, top %s (want %s), score %s, %zu recommendation(s)\n",
              ok && top_ok ? "PASS" : "FAIL", scenario.c_str(), measured, want, truth.value("measured_remote_share", want),
              tolerance,
              report["evidence"].value("locality_source", "?").c_str(), top.c_str(), want_top.c_str(),
              report["score"].dump().c_str(), recs.size());
  return ok && top_ok ? 0 : 1;
}
