// Philox4x32-10 against Random123's known answers, the fastdrop stream against its vectors, and
// the keep decisions of contract v2 against theirs: philox.h's stream_lane, and the C ABI on every
// ISA this CPU has.
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <string>
#include <vector>

#include "check.h"
#include "fastdrop/fastdrop.h"
#include "fastdrop/math/common.h"

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

// A row of keep_vectors_v2.txt: seed offset p first count [->] keep bits (bit i & 7 of byte i >> 3
// is unit first + i), seed, offset and first in hex, p and count in decimal.
struct KeepVector {
  uint64_t seed, offset, first;
  double p;
  int64_t count;
  std::vector<uint8_t> bits;
};

std::vector<KeepVector> read_keep_vectors(const std::string& path) {
  std::vector<KeepVector> rows;
  FILE* f = fopen(path.c_str(), "r");
  if (!f) return rows;
  char line[512], hex[256];
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#' || line[0] == '\n') continue;
    for (char* arrow = strstr(line, "->"); arrow; arrow = strstr(arrow, "->")) arrow[0] = arrow[1] = ' ';
    KeepVector row;
    if (sscanf(line, "%" SCNx64 " %" SCNx64 " %lf %" SCNx64 " %" SCNd64 " %255s", &row.seed, &row.offset, &row.p,
               &row.first, &row.count, hex) != 6) {
      continue;
    }
    for (size_t i = 0; hex[i] && hex[i + 1]; i += 2) {
      const char byte[3] = {hex[i], hex[i + 1], 0};
      row.bits.push_back(static_cast<uint8_t>(strtoul(byte, nullptr, 16)));
    }
    rows.push_back(row);
  }
  fclose(f);
  return rows;
}

bool bit(const std::vector<uint8_t>& bits, int64_t i) { return (bits[i >> 3] >> (i & 7)) & 1; }

void check_keep_vector(const KeepVector& row, const char* isa) {
  CHECK(static_cast<int64_t>(row.bits.size()) == (row.count + 7) / 8, "keep vector of %lld units", (long long)row.count);
  const fastdrop::DropoutParams params = fastdrop::make_dropout_params(row.p, row.seed, row.offset);
  // The mask bits and the forward of the units, placed as a shard's run that starts at `first`.
  const fastdrop_unit_runs runs = {row.first, row.count, static_cast<uint64_t>(row.count)};
  std::vector<uint8_t> bits(row.bits.size());
  CHECK(fastdrop_dropout_mask_bits_runs(row.count, row.p, row.seed, row.offset, &runs, bits.data()) ==
            FASTDROP_SUCCESS, "mask_bits_runs status");
  const std::vector<float> ones(row.count, 1.0f);
  std::vector<float> y(row.count);
  CHECK(fastdrop_dropout_forward_runs(FASTDROP_FLOAT32, ones.data(), y.data(), row.count, row.p, row.seed, row.offset,
                                      &runs) == FASTDROP_SUCCESS, "forward_runs status");
  for (int64_t i = 0; i < row.count; ++i) {
    const bool want = bit(row.bits, i);
    const uint64_t u = row.first + static_cast<uint64_t>(i);
    CHECK(fastdrop::keeps(fastdrop::stream_lane(row.seed, row.offset, u), params) == want,
          "stream_lane: seed %016" PRIx64 " unit %" PRIx64, row.seed, u);
    CHECK(bit(bits, i) == want, "%s mask bits: seed %016" PRIx64 " unit %" PRIx64, isa, row.seed, u);
    CHECK((y[i] != 0.0f) == want, "%s forward: seed %016" PRIx64 " unit %" PRIx64, isa, row.seed, u);
  }
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

  const auto keep_vectors = read_keep_vectors(data + "/keep_vectors_v2.txt");
  CHECK(!keep_vectors.empty(), "no keep vectors read from %s", data.c_str());
  for (int isa = FASTDROP_ISA_SCALAR; isa <= FASTDROP_ISA_AVX512; ++isa) {
    if (!fastdrop_cpu_isa_supported(fastdrop_cpu_isa(isa))) continue;
    CHECK(fastdrop_cpu_isa_set(fastdrop_cpu_isa(isa)) == FASTDROP_SUCCESS, "set isa %d", isa);
    for (const auto& row : keep_vectors) check_keep_vector(row, fastdrop_cpu_isa_name(fastdrop_cpu_isa(isa)));
  }
  return finish("philox");
}
