#!/usr/bin/env bash
# g++ -O2 builds a small three-file C++ program (templates, STL, std::thread), then the program
# runs. Rule: object files, the linked executable and the program's stdout byte-identical.
. "$(dirname "$0")/common.sh"
need g++ g++
for mode in plain agent; do
  d=$WORK/$mode
  cat >"$d/shapes.hpp" <<'CPP'
#pragma once
#include <map>
#include <string>
#include <vector>
std::map<std::string, long> count_words(const std::vector<std::string>& lines);
std::vector<std::string> make_lines(int n, int seed);
CPP
  cat >"$d/words.cpp" <<'CPP'
#include <sstream>
#include "shapes.hpp"
std::map<std::string, long> count_words(const std::vector<std::string>& lines) {
  std::map<std::string, long> counts;
  for (const auto& l : lines) {
    std::istringstream in(l);
    for (std::string w; in >> w;) ++counts[w];
  }
  return counts;
}
CPP
  cat >"$d/lines.cpp" <<'CPP'
#include <random>
#include "shapes.hpp"
std::vector<std::string> make_lines(int n, int seed) {
  std::mt19937 rng(seed);
  const char* words[] = {"alpha", "beta", "gamma", "delta", "numa", "node"};
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    std::string l;
    for (int k = 0; k < 8; ++k) l += std::string(words[rng() % 6]) + std::to_string(rng() % 50) + " ";
    out.push_back(l);
  }
  return out;
}
CPP
  cat >"$d/main.cpp" <<'CPP'
#include <cstdio>
#include <thread>
#include "shapes.hpp"
int main() {
  std::vector<std::map<std::string, long>> parts(4);
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) ts.emplace_back([&parts, t] { parts[t] = count_words(make_lines(20000, t)); });
  for (auto& t : ts) t.join();
  std::map<std::string, long> all;
  for (auto& p : parts) for (auto& [w, c] : p) all[w] += c;
  for (auto& [w, c] : all) if (c > 1330) std::printf("%s %ld\n", w.c_str(), c);
  std::printf("distinct %zu\n", all.size());
}
CPP
done
run_both sh -c 'for f in words lines main; do g++ -O2 -std=c++17 -c $f.cpp -o $f.o || exit 1; done; g++ -O2 -pthread words.o lines.o main.o -o wordcount && ./wordcount'
same_stdout
same_stderr
for f in words.o lines.o main.o wordcount; do same_file "$WORK/plain/$f" "$WORK/agent/$f" "$f"; done
agent_ran threads
