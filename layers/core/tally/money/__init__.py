"""Money: tariffs (price lists with validity intervals) and invoices priced from the usage views."""
