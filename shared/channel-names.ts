// Channel names alone, for the sandboxed preload, which must stay small and free of zod. The
// contract's `satisfies` clauses keep these lists and the schemas in step.
export const requestChannelNames = ['engine.info', 'vms.list', 'points.list', 'jobs.list', 'jobs.get', 'jobs.cancel', 'jobs.resume', 'jobs.discard', 'jobs.approve', 'settings.get', 'settings.set', 'backup.start', 'restore.entireVm', 'restore.previewOriginal', 'verify.start', 'files.list', 'files.preview', 'files.restore', 'files.index', 'files.search', 'audit.list', 'audit.verify', 'hosts.list', 'hosts.add', 'hosts.remove', 'hosts.inventory', 'proxies.list', 'proxies.add', 'proxies.remove', 'tape.library.create', 'tape.inventory', 'tape.import', 'tape.eject', 'tape.backup', 'tape.catalog', 'tape.copies', 'tape.pullList', 'restore.tape', 'lab.create', 'rehearsal.start', 'rehearsal.report', 'prompts.list', 'prompts.answer'] as const;
export const eventChannelNames = ['job.updated', 'job.progress', 'prompt.updated'] as const;
export type RequestChannelName = (typeof requestChannelNames)[number];
export type EventChannelName = (typeof eventChannelNames)[number];
