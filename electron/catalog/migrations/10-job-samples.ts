// Catalog migration 10: job throughput samples, for the plot of a job over time.
export const version = 10;
export const purpose = 'job throughput samples, for the plot of a job over time';
export const sql = `
  CREATE TABLE job_samples (
    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    at_ms INTEGER NOT NULL,
    bytes_done INTEGER NOT NULL,
    PRIMARY KEY (job_id, at_ms)
  ) STRICT, WITHOUT ROWID;
`;
