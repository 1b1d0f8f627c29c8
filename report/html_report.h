// One self-contained HTML page per training run: configuration, loss curves (inline SVG), the latest
// samples (images and audio embedded as base64 data URIs, text inline) and timing. It opens in any
// browser with no other file next to it, and is rewritten atomically as the run goes on.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kiln::report {

using KeyValues = std::vector<std::pair<std::string, std::string>>;

struct RunReport {
  std::string title;
  KeyValues config;                 // the run's settings
  KeyValues results;                // e.g. {"test accuracy", "91.2%"}
  std::vector<std::string> plots;   // SVG documents
  KeyValues images;                 // caption → PNG file
  KeyValues texts;                  // caption → text
  KeyValues audio;                  // caption → WAV file
  KeyValues timing;                 // e.g. {"images/s", "5120"}
};

void write_html_report(const std::string& path, const RunReport& report);

std::string base64(const std::vector<uint8_t>& bytes);

}  // namespace kiln::report
