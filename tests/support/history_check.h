// The job history (pdr_job_events) agrees with the job rows: written in the transaction of each
// change, the last event that changed a job names the state the job is in, every job pdr_run
// moved has a history, and (when nothing put finished jobs back) each finished job has one
// finish. `count` runs a COUNT(*) query on the database under test.
#pragma once

#include <gtest/gtest.h>

#include <string>

namespace pdr::test {

template <class Count>
void expect_history_agrees(Count count, bool finished_once = true) {
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs j JOIN pdr_job_events e ON e.job_id = j.id WHERE e.id = "
                  "(SELECT MAX(x.id) FROM pdr_job_events x WHERE x.job_id = j.id AND x.state IS NOT NULL) AND "
                  "e.state <> j.status"),
            0)
      << "a job's last event does not name its state";
  EXPECT_EQ(count("SELECT COUNT(*) FROM pdr_model_jobs j WHERE j.status <> 'pending' AND j.duplicate_key = 0 AND "
                  "NOT EXISTS (SELECT 1 FROM pdr_job_events e WHERE e.job_id = j.id AND e.state IS NOT NULL)"),
            0)
      << "a job pdr_run moved has no history";
  if (count("SELECT COUNT(*) FROM pdr_model_jobs") > 0) {
    EXPECT_GT(count("SELECT COUNT(*) FROM pdr_job_events WHERE job_id IS NULL AND event = 'registered'"), 0)
        << "no registration event";
  }
  if (finished_once) {
    EXPECT_EQ(count("SELECT COUNT(*) FROM (SELECT j.id FROM pdr_model_jobs j LEFT JOIN pdr_job_events e ON e.job_id "
                    "= j.id AND e.state = 'finished' WHERE j.status = 'finished' GROUP BY j.id HAVING COUNT(e.id) <> "
                    "1) t"),
              0)
        << "a finished job without exactly one finish in its history";
  }
}

}  // namespace pdr::test
