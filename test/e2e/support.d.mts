export function readFixture(dir: string, name: string): Uint8Array;
export function inspectImage(
	python: string,
	bytes: Uint8Array,
): { format: string; width: number; height: number; frames: number; top: number[]; bottom: number[] };
export function killGroup(pid: number, port: number): Promise<void>;
export function startThumborOn(port: number, securityKey: string): Promise<{ stop: () => Promise<void> }>;
