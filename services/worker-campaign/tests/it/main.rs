//! Campaign jobs on the real runtime, broker and database, sending to the fake WUZAPI.
