// Philox4x32-10 against Random123's known answers, and the fastdrop stream against its vectors,
// through the C ABI on every ISA this CPU has.
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <string>
#include <vector>

#include "check.h"
#include "fastdrop/fastdrop.h"

namespace {

std::vector<std::vector<uint64_t>> read_rows(const std::string& path, size_t columns) {
  std::vector<std::vector<uint64_t>> rows;
  FILE* f = fopen(path.c_str(), "r");
  if (!f) return rows;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#' || line[0] == '\n') continue;
    std::vector<uint64_t> row;
    char* cursor = line;
    char* end = nullptr;
    for (uint64_t v = strtoull(cursor, &end, 16); end != cursor; v = strtoull(cursor, &end, 16)) {
      row.push_back(v);
      cursor = end;
      while (*cursor == ' ' || *cursor == '-' || *cursor == '>') ++cursor;
    }
    if (row.size() == columns) rows.push_back(row);
  }
  fclose(f);
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string data = argc > 1 ? argv[1] : "../shared/data";

  const auto kat = read_rows(data + "/philox4x32_10_kat.txt", 10);
  CHECK(!kat.empty(), "no known-answer vectors read from %s", data.c_str());
  for (const auto& row : kat) {
    const uint32_t ctr[4] = {uint32_t(row[0]), uint32_t(row[1]), uint32_t(row[2]), uint32_t(row[3])};
    const uint32_t key[2] = {uint32_t(row[4]), uint32_t(row[5])};
    uint32_t out[4];
    CHECK(fastdrop_philox4x32_10(ctr, key, out) == FASTDROP_SUCCESS, "status");
    for (int i = 0; i < 4; ++i) CHECK(out[i] == row[6 + i], "kat word %d: %08x", i, out[i]);
  }

  const auto stream = read_rows(data + "/stream_vectors.txt", 4);
  CHECK(!stream.empty(), "no stream vectors read from %s", data.c_str());
  for (int isa = FASTDROP_ISA_SCALAR; isa <= FASTDROP_ISA_AVX512; ++isa) {
    if (!fastdrop_cpu_isa_supported(fastdrop_cpu_isa(isa))) {
      printf("skipped: %s not supported by this CPU\n", fastdrop_cpu_isa_name(fastdrop_cpu_isa(isa)));
      continue;
    }
    CHECK(fastdrop_cpu_isa_set(fastdrop_cpu_isa(isa)) == FASTDROP_SUCCESS, "set isa %d", isa);
    for (const auto& row : stream) {
      // Read the word both alone and inside a longer run that starts at an unaligned unit.
      uint32_t word = 0;
      CHECK(fastdrop_stream_words(row[0], row[1], row[2], 1, &word) == FASTDROP_SUCCESS, "status");
      CHECK(word == row[3], "%s: seed %016" PRIx64 " unit %" PRIx64 ": %08x",
            fastdrop_cpu_isa_name(fastdrop_cpu_isa(isa)), row[0], row[2], word);
      const uint64_t first = row[2] >= 37 ? row[2] - 37 : 0;
      std::vector<uint32_t> run(100);
      CHECK(fastdrop_stream_words(row[0], row[1], first, 100, run.data()) == FASTDROP_SUCCESS, "status");
      CHECK(run[row[2] - first] == row[3], "run word for unit %" PRIx64, row[2]);
    }
  }
  return finish("philox");
}
