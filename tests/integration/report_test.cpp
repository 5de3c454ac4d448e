// Black-box tests of `pdr_run report`: a grid with finished, failed, running and pending jobs
// over three axes, its page opened in headless Chromium (no console error, no network request,
// the cells per state in the DOM, a failed point's tooltip, a screenshot), --watch replacing the
// file at once, --json, bad flags, and that the database is only read.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "support/run_binary.h"
#include "support/temp_dir.h"

namespace pdr {
namespace {

namespace fs = std::filesystem;

const std::string kBase = std::string("PDR_BASE_DIR=") + PDR_MOCK_BASE;
const char* const kChromium = "/usr/bin/chromium";

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test::write_text(dir_ / "cfg.yaml",
                     "database:\n  type: sqlite\n  path: jobs.db\nstorage:\n  type: local\n  base_dir: store\n"
                     "user:\n  username: t\n  email: t@example.org\nmodel_parameters:\n  metal: [\"100\"]\n"
                     "  species: [CO]\nrun:\n  parallel: true\n  workers: 4\n  scratch_dir: scratch\n"
                     "  lease_seconds: 600\n  max_attempts: 1\n");
  }

  std::vector<std::string> grid(std::vector<std::string> dens) {
    std::vector<std::string> args = {"--config", "cfg.yaml", "--model-name", "rep", "--dens"};
    args.insert(args.end(), dens.begin(), dens.end());
    for (const char* a : {"--chi", "10", "20", "--mass", "-10", "0"}) args.emplace_back(a);
    return args;
  }

  test::RunResult pdr_run(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    std::vector<std::string> e = {kBase};
    e.insert(e.end(), env.begin(), env.end());
    return test::run_pdr_run(dir_.path(), args, e);
  }

  // 20 jobs over dens, chi and mass: 10 finished, 2 failed (pdr, exit code 3), 4 running (their
  // process was killed; their leases last 10 minutes), 4 pending (registered only).
  void make_grid() {
    auto done = pdr_run(grid({"30", "40", "50"}), {"PDR_MOCK_PLAN=100_50_00_*:fail=3"});
    ASSERT_EQ(done.code, 1) << done.err;
    const pid_t hung = test::start_pdr_run(dir_.path(), grid({"60"}), {kBase, "PDR_MOCK_PLAN=*:hang"});
    for (int i = 0; i < 300 && count_state("running") < 4; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(hung, SIGKILL);
    test::finish_pdr_run(hung, dir_.path());
    auto reg = pdr_run([&] {
      auto a = grid({"70"});
      a.emplace_back("--register-only");
      return a;
    }());
    ASSERT_EQ(reg.code, 0) << reg.err;
    ASSERT_EQ(count_state("finished"), 10);
    ASSERT_EQ(count_state("failed"), 2);
    ASSERT_EQ(count_state("running"), 4);
    ASSERT_EQ(count_state("pending"), 4);
  }

  long long count_state(const std::string& state) {
    auto r = pdr_run({"status", "--config", "cfg.yaml", "--model-name", "rep", "--json"});
    const auto at = r.out.find("\"" + state + "\": ");
    if (r.code != 0 || at == std::string::npos) return -1;
    return std::stoll(r.out.substr(at + state.size() + 4));
  }

  // Runs headless Chromium on the page; returns its exit code, stdout in *out, stderr in *err.
  int chromium(const std::vector<std::string>& args, std::string* out, std::string* err) {
    std::string cmd = std::string(kChromium) +
                      " --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions "
                      "--disable-background-networking --enable-logging=stderr --v=0";
    for (const auto& a : args) cmd += " '" + a + "'";
    cmd += " > '" + (dir_ / "chromium.out") + "' 2> '" + (dir_ / "chromium.err") + "'";
    const int rc = std::system(cmd.c_str());
    *out = test::read_text(dir_ / "chromium.out");
    *err = test::read_text(dir_ / "chromium.err");
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }

  static size_t occurrences(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  }

  test::TempDir dir_;
};

TEST_F(ReportTest, APageOfTheGridOpensInChromiumWithEveryCellAndNothingLoaded) {
  ASSERT_TRUE(fs::exists(kChromium)) << "Chromium is needed for this test: ./scripts/setup.sh installs it";
  make_grid();
  const std::string db_before = test::read_text(dir_ / "jobs.db");
  auto r = pdr_run({"report", "--config", "cfg.yaml", "--model-name", "rep", "--out", "r.html"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("wrote r.html (20 jobs"), std::string::npos) << r.err;
  EXPECT_EQ(test::read_text(dir_ / "jobs.db"), db_before) << "the report wrote to the database";
  EXPECT_FALSE(fs::exists(dir_ / "jobs.db-wal"));
  const std::string page = test::read_text(dir_ / "r.html");
  EXPECT_LT(page.size(), 200u * 1024);

  std::string dom, log;
  ASSERT_EQ(chromium({"--dump-dom", "file://" + (dir_ / "r.html")}, &dom, &log), 0) << log;
  // No console message at all: no script error, no load the page's policy blocked.
  EXPECT_EQ(log.find(":CONSOLE"), std::string::npos) << log;
  EXPECT_NE(dom.find("data-drawn=\"yes\""), std::string::npos) << "the script did not finish";
  EXPECT_NE(dom.find("data-resources=\"0\""), std::string::npos) << "the page fetched something";
  // The state maps hold one cell per job, by state.
  const auto from = dom.find("id=\"state-maps\""), to = dom.find("id=\"runtime-maps\"");
  ASSERT_NE(from, std::string::npos);
  ASSERT_NE(to, std::string::npos);
  const std::string maps = dom.substr(from, to - from);
  EXPECT_EQ(occurrences(maps, "data-state=\"finished\""), 10u);
  EXPECT_EQ(occurrences(maps, "data-state=\"failed\""), 2u);
  EXPECT_EQ(occurrences(maps, "data-state=\"running\""), 4u);
  EXPECT_EQ(occurrences(maps, "data-state=\"pending\""), 4u);
  EXPECT_EQ(occurrences(dom, "<h3>mass "), 4u) << "two panels (mass -10, 0) in each of the two maps";
  // A failed point's tooltip names it, its job, stage and cause.
  EXPECT_NE(dom.find("<title>dens 50, chi 10, mass 0, metal 100: failed; failed job 100_50_00_10_00 in pdr: exit "
                     "code 3</title>"),
            std::string::npos)
      << maps;
  EXPECT_NE(dom.find("id=\"failures\""), std::string::npos);
  EXPECT_NE(dom.find("id=\"progress\""), std::string::npos);
  EXPECT_NE(dom.find("id=\"hosts\""), std::string::npos);

  // Big grids draw a path per state and panel (failed cells stay rects with their tooltips): the
  // same counts, forced here with #compact.
  std::string compact;
  ASSERT_EQ(chromium({"--dump-dom", "file://" + (dir_ / "r.html") + "#compact"}, &compact, &log), 0) << log;
  EXPECT_EQ(log.find(":CONSOLE"), std::string::npos) << log;
  const std::string cmaps = compact.substr(compact.find("id=\"state-maps\""),
                                           compact.find("id=\"runtime-maps\"") - compact.find("id=\"state-maps\""));
  std::map<std::string, long long> cells;
  const std::regex path("<path class=\"cells\" data-state=\"([a-z]+)\" data-cells=\"([0-9]+)\"");
  for (auto it = std::sregex_iterator(cmaps.begin(), cmaps.end(), path); it != std::sregex_iterator(); ++it) {
    cells[(*it)[1]] += std::stoll((*it)[2]);
  }
  EXPECT_EQ(cells["finished"], 10);
  EXPECT_EQ(cells["running"], 4);
  EXPECT_EQ(cells["pending"], 4);
  EXPECT_EQ(occurrences(cmaps, "<rect class=\"cell\" data-i="), 2u) << "the failed cells";
  EXPECT_NE(cmaps.find("failed job 100_50_00_10_00 in pdr: exit code 3</title>"), std::string::npos);

  // A screenshot, kept with the build.
  fs::create_directories(PDR_ARTIFACT_DIR);
  const std::string png = std::string(PDR_ARTIFACT_DIR) + "/report.png";
  fs::remove(png);
  std::string out, err;
  ASSERT_EQ(
      chromium({"--hide-scrollbars", "--window-size=1300,1700", "--screenshot=" + png, "file://" + (dir_ / "r.html")},
               &out, &err),
      0)
      << err;
  ASSERT_TRUE(fs::exists(png)) << err;
  EXPECT_GT(fs::file_size(png), 20000u);
  std::ifstream in(png, std::ios::binary);
  char magic[8] = {};
  in.read(magic, 8);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");

  // The same data as JSON, to standard output.
  auto json = pdr_run({"report", "--config", "cfg.yaml", "--model-name", "rep", "--json", "--out", "-"});
  ASSERT_EQ(json.code, 0) << json.err;
  YAML::Node doc = YAML::Load(json.out);
  EXPECT_EQ(doc["counts"]["running"].as<int>(), 4);
  EXPECT_EQ(doc["cells"].size(), 20u);
  EXPECT_EQ(doc["failures"][0]["examples"].size(), 2u);
  EXPECT_EQ(test::read_text(dir_ / "jobs.db"), db_before);
}

TEST_F(ReportTest, WatchReplacesTheFileAtOnceUntilStopped) {
  auto done = pdr_run(grid({"30"}));
  ASSERT_EQ(done.code, 0) << done.err;
  const pid_t watch = test::start_pdr_run(
      dir_.path(), {"report", "--config", "cfg.yaml", "--model-name", "rep", "--watch", "1", "--out", "w.html"},
      {kBase});
  // A reader in a loop sees the whole page every time, never a part: until the page was written
  // three times (a busy machine may take longer than 3 s for it; at most a minute).
  std::set<std::string> seen;
  size_t reads = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < end &&
         (reads <= 100 || occurrences(test::read_text(dir_ / ".stderr"), "wrote w.html") < 3)) {
    std::ifstream in(dir_ / "w.html", std::ios::binary);
    if (!in) continue;
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ++reads;
    ASSERT_EQ(text.rfind("<!DOCTYPE html>", 0), 0u) << "a partial page";
    ASSERT_GE(text.size(), 8u);
    ASSERT_EQ(text.substr(text.size() - 8), "</html>\n") << "a partial page";
    EXPECT_NE(text.find("<meta http-equiv=\"refresh\" content=\"1\">"), std::string::npos);
    seen.insert(text);
  }
  ::kill(watch, SIGTERM);
  auto r = test::finish_pdr_run(watch, dir_.path());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_GT(reads, 100u);
  EXPECT_GE(seen.size(), 2u) << "rewritten (each page names the time it was made)";
  EXPECT_GE(occurrences(r.err, "wrote w.html"), 3u) << r.err;
  for (const auto& e : fs::directory_iterator(dir_.path())) {
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << "left behind: " << e.path();
  }
}

TEST_F(ReportTest, BadFlagsWriteNothing) {
  auto done = pdr_run(grid({"30"}));
  ASSERT_EQ(done.code, 0) << done.err;
  ASSERT_EQ(::mkfifo((dir_ / "fifo").c_str(), 0600), 0);  // a rename would turn it into a file
  test::write_text(dir_ / "notes.txt", "{\"model\": \"mine\"}\n");
  const std::string db_before = test::read_text(dir_ / "jobs.db"), cfg_before = test::read_text(dir_ / "cfg.yaml");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--axes", "dens,dens"}, "--axes: expects two different axes"},
      {{"--axes", "dens,temperature"}, "--axes"},
      {{"--watch", "0"}, "--watch 0"},
      {{"--out", "no/such/dir/r.html"}, "cannot write in"},
      {{"--out", "."}, "is a directory"},
      {{"--watch", "5", "--out", "-"}, "--watch rewrites a file"},
      {{"--out", "fifo"}, "is not a regular file"},
      // Only a report is replaced: never the job database, the configuration or another file.
      {{"--out", "jobs.db"}, "--out jobs.db: is not a report of pdr_run"},
      {{"--out", "cfg.yaml"}, "--out cfg.yaml: is not a report of pdr_run"},
      {{"--json", "--out", "notes.txt"}, "--out notes.txt: is not a report of pdr_run"},
  };
  for (const auto& [extra, message] : cases) {
    std::vector<std::string> args = {"report", "--config", "cfg.yaml", "--model-name", "rep"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = pdr_run(args);
    EXPECT_EQ(r.code, 2) << extra[0] << " " << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    EXPECT_EQ(occurrences(r.err, "\n"), 1u) << "one line: " << r.err;
  }
  auto unknown = pdr_run({"report", "--config", "cfg.yaml", "--model-name", "nope"});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.err.find("model 'nope' is not in"), std::string::npos) << unknown.err;
  auto none = pdr_run({"report", "--config", "cfg.yaml"});
  EXPECT_EQ(none.code, 2);
  EXPECT_FALSE(fs::exists(dir_ / "report.html"));
  EXPECT_FALSE(fs::exists(dir_ / "no"));
  EXPECT_TRUE(fs::is_fifo(dir_ / "fifo")) << "replaced";
  EXPECT_EQ(test::read_text(dir_ / "jobs.db"), db_before);
  EXPECT_EQ(test::read_text(dir_ / "cfg.yaml"), cfg_before);
  EXPECT_EQ(test::read_text(dir_ / "notes.txt"), "{\"model\": \"mine\"}\n");
  // A report of its own, HTML or JSON, and an empty file are replaced, whichever kind is asked.
  for (const auto& [file, kind] : {std::pair<const char*, const char*>{"a.html", "--json"},
                                   {"a.html", "--html"},
                                   {"b.json", "--html"},
                                   {"b.json", "--json"}}) {
    std::vector<std::string> args = {"report", "--config", "cfg.yaml", "--model-name", "rep", "--out", file};
    if (std::string(kind) == "--json") args.emplace_back("--json");
    auto r = pdr_run(args);
    EXPECT_EQ(r.code, 0) << file << " " << kind << " " << r.err;
  }
  test::write_text(dir_ / "empty.html", "");
  EXPECT_EQ(pdr_run({"report", "--config", "cfg.yaml", "--model-name", "rep", "--out", "empty.html"}).code, 0);
}

}  // namespace
}  // namespace pdr
