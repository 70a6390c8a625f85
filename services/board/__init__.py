"""The live board: a read-only web page of every site side by side, served per site."""
