"""Infrastructure the actions and the web layer stand on: database, files, mail, passwords, signatures, documents,
PDFs, live wake-ups, templates, logs and metrics, migrations and backups. Nothing here decides a rule of the product."""
