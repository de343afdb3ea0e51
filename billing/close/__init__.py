"""Period close: boundary indexes, holds, drafts and regularisations of a billing period."""
