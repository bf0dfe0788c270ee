CREATE TABLE accounts (id INTEGER);
