package postgres

// Migrations are the schema versions, for the tests of package
// postgres_test.
var Migrations = migrations

// Rebind is rebind, for the tests of package postgres_test.
var Rebind = rebind
