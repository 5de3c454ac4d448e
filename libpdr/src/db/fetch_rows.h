// Every row of a query, fetched a batch at a time (kBatch rows per round trip) into one vector
// per column and handed to `each` one row at a time: a model's jobs can be millions of rows.
//
//   for_each_row<long long, std::string>(sql, "SELECT id, status FROM pdr_model_jobs WHERE "
//       "model_name_id = :m", std::tie(model_id), [&](long long id, const std::string& s) { ... });
#pragma once

#include <soci/soci.h>

#include <string>
#include <tuple>
#include <vector>

namespace pdr {

constexpr size_t kBatch = 5000;  // rows per bulk statement or fetch

// `uses` binds the query's placeholders in order (std::tie of the values); `each` is called
// with one argument per column, of the types Columns (no NULLs: COALESCE them in the query).
template <class... Columns, class Uses, class Each>
void for_each_row(soci::session& sql, const std::string& query, Uses uses, Each&& each) {
  std::tuple<std::vector<Columns>...> columns{std::vector<Columns>(kBatch)...};
  soci::statement st(sql);
  std::apply([&](auto&... u) { (st.exchange(soci::use(u)), ...); }, uses);
  std::apply([&](auto&... c) { (st.exchange(soci::into(c)), ...); }, columns);
  st.alloc();
  st.prepare(query);
  st.define_and_bind();
  st.execute(false);
  while (st.fetch()) {
    const size_t n = std::get<0>(columns).size();
    for (size_t i = 0; i < n; ++i) std::apply([&](auto&... c) { each(c[i]...); }, columns);
    std::apply([](auto&... c) { (c.resize(kBatch), ...); }, columns);
  }
}

}  // namespace pdr
