"""FFS Bot core: domain model, services, database and i18n (no channel code)."""
