CREATE ROLE app LOGIN PASSWORD '${app_password}';
