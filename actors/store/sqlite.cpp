#include "actors/store/sqlite.hpp"

#include <sqlite3.h>

#include <utility>

namespace jobd::sql {

error::error(int code, const std::string& what)
  : std::runtime_error(what), code_(code) {
  // nop
}

database::database(const std::string& path, bool create) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (create)
    flags |= SQLITE_OPEN_CREATE;
  auto rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw error(rc, msg);
  }
  sqlite3_extended_result_codes(db_, 1);
}

database::~database() {
  if (db_ != nullptr)
    sqlite3_close_v2(db_);
}

database::database(database&& other) noexcept
  : db_(std::exchange(other.db_, nullptr)) {
  // nop
}

database& database::operator=(database&& other) noexcept {
  std::swap(db_, other.db_);
  return *this;
}

void database::check(int rc) const {
  if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE)
    return;
  throw error(sqlite3_extended_errcode(db_), sqlite3_errmsg(db_));
}

void database::exec(const char* sql) {
  char* msg = nullptr;
  auto rc = sqlite3_exec(db_, sql, nullptr, nullptr, &msg);
  if (rc != SQLITE_OK) {
    std::string text = msg != nullptr ? msg : sqlite3_errstr(rc);
    sqlite3_free(msg);
    throw error(sqlite3_extended_errcode(db_), text);
  }
}

int64_t database::query_int(const char* sql) {
  statement st{*this, sql};
  return st.step() ? st.int_at(0) : 0;
}

int64_t database::changes() const {
  return sqlite3_changes64(db_);
}

statement::statement(database& db, const char* sql) : db_(&db) {
  db.check(sqlite3_prepare_v3(db.handle(), sql, -1, SQLITE_PREPARE_PERSISTENT,
                              &stmt_, nullptr));
}

statement::~statement() {
  sqlite3_finalize(stmt_);
}

statement::statement(statement&& other) noexcept
  : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {
  // nop
}

statement& statement::operator=(statement&& other) noexcept {
  std::swap(db_, other.db_);
  std::swap(stmt_, other.stmt_);
  return *this;
}

statement& statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  return *this;
}

statement& statement::bind(int i, int64_t x) {
  db_->check(sqlite3_bind_int64(stmt_, i, x));
  return *this;
}

statement& statement::bind(int i, std::string_view x) {
  db_->check(sqlite3_bind_text64(stmt_, i, x.data(), x.size(), SQLITE_TRANSIENT,
                                 SQLITE_UTF8));
  return *this;
}

statement& statement::bind_null(int i) {
  db_->check(sqlite3_bind_null(stmt_, i));
  return *this;
}

bool statement::step() {
  auto rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW)
    return true;
  if (rc == SQLITE_DONE)
    return false;
  // The statement must not stay half-run (it would hold a read lock).
  auto code = sqlite3_extended_errcode(db_->handle());
  std::string msg = sqlite3_errmsg(db_->handle());
  sqlite3_reset(stmt_);
  throw error(code, msg);
}

void statement::run() {
  while (step()) {
    // drain
  }
}

int64_t statement::single_int() {
  auto value = step() ? int_at(0) : 0;
  sqlite3_reset(stmt_);
  return value;
}

int64_t statement::int_at(int col) const {
  return sqlite3_column_int64(stmt_, col);
}

std::string statement::text_at(int col) const {
  return std::string{view_at(col)};
}

std::string_view statement::view_at(int col) const {
  auto p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  auto n = static_cast<size_t>(sqlite3_column_bytes(stmt_, col));
  return p == nullptr ? std::string_view{} : std::string_view{p, n};
}

bool statement::is_null(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

transaction::transaction(database& db) : db_(db) {
  db_.exec("BEGIN IMMEDIATE");
}

transaction::~transaction() {
  if (!done_)
    sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

} // namespace jobd::sql
