#pragma once
// The HTML report of a regression run: DIR/index.html and one PNG per picture, failures first.
// Written into a temporary sibling folder and moved into place at the end, so an error never
// leaves a half-written report; an existing DIR is replaced only when it is empty or is an
// earlier dualcam regress report (it holds the marker file `.dualcam-regress-report`).
#include <string>
#include <vector>

#include "dualcam/regress/runner.hpp"

namespace dualcam::regress {

// Throws Error(IO) when `dir` cannot become a report folder (its parent is missing, or it exists
// and is neither empty nor an earlier report). Call it before running anything.
void check_report_dir(const std::string& dir);

// Writes the report; `title` heads the page (e.g. the manifest path). Pictures' `file` entries
// (from a merged JSON) are copied in; in-memory pictures are encoded as PNG. On success each
// picture's `file` is set to its path inside `dir`.
void write_html_report(const std::string& dir, const std::string& title, std::vector<CaseResult>& results);

}  // namespace dualcam::regress
