export function freePorts(n: number): Promise<number[]>;
export function expectNoInternals(text: string, options?: { allowed?: string[] }): void;
export function readFixture(dir: string, name: string): Uint8Array;
export function inspectImage(
	python: string,
	bytes: Uint8Array,
): {
	format: string;
	width: number;
	height: number;
	frames: number;
	mode: string;
	alpha: boolean;
	orientation: number;
	/** Alpha-weighted, 0..255 a channel. */
	mean: number[];
	top: number[];
	bottom: number[];
	stdev: number;
	quadrants: number[][];
};
export function killGroup(pid: number, port: number): Promise<void>;
export function startThumborOn(port: number, securityKey: string, logFile?: string): Promise<{ stop: () => Promise<void> }>;
export function healthUntil(
	baseUrl: string,
	thumbor: "ok" | "idle" | "unreachable" | "misconfigured" | "failing",
	timeoutMs?: number,
): Promise<{ status: number; body: { status: string; thumbor: string; checkedAt: string } }>;
export function readLog(logDir: string, name: "thumbor" | "wrangler"): string;
export function logFile(logDir: string, name: "thumbor" | "wrangler"): string;
export function decodeWithBudget(
	python: string,
	fixturesDir: string,
	name: string,
	budgetSeconds: number,
): { status: number; seconds: number };
export function startDev(options?: { dir?: string }): Promise<{
	baseUrl: string;
	dir: string;
	thumborPort: number;
	thumborPid: number;
	output: () => string;
	waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<RegExpExecArray>;
	stop: (options?: { keep?: boolean }) => Promise<number | null>;
}>;
export function startBlackHole(port: number): Promise<{ close: () => Promise<void> }>;
export interface Receiver {
	status: number;
	url: string;
	requests: {
		id: string;
		at: number;
		event: { type: string; timestamp: string; data: Record<string, unknown> } | null;
		error: string | null;
		status: number;
		traceparent: string | null;
	}[];
	close: () => Promise<void>;
}
export function startReceiver(secret: string): Promise<Receiver>;
export function startOwnStack(vars?: Record<string, string>): Promise<{
	baseUrl: string;
	apiKey: string;
	adminToken: string;
	thumborKey: string;
	logDir: string;
	stopThumbor: () => Promise<void>;
	restartThumbor: (securityKey?: string) => Promise<void>;
	stop: () => Promise<void>;
}>;
export function colourCheck(
	python: string,
	original: Uint8Array,
	thumbnail: Uint8Array,
	placeholderColour?: string,
): { original: number[]; thumbnail: number[]; deltaE: number; placeholderDeltaE?: number; chunks: string[] };
export function renditionsCheck(
	python: string,
	images: Uint8Array[],
	original?: Uint8Array,
): {
	format: string;
	width: number;
	height: number;
	mode: string;
	chroma: string | null;
	metadata: string[];
	framing: number;
	centre?: number;
}[];
export function meanDifference(python: string, a: Uint8Array, b: Uint8Array): number;
export function startStockThumbor(dir: string): Promise<{ url: string; stop: () => Promise<void> }>;
export function rawUpload(
	baseUrl: string,
	apiKey: string,
	body: Uint8Array,
	declared: number,
	options?: { chunks?: number; gapMs?: number; method?: string; path?: string; headers?: Record<string, string> },
): Promise<{ status: number; type: string; body: string; ms: number }>;
export function startCuttingProxy(
	targetUrl: string,
	options?: { cutAfter?: number },
): Promise<{ url: string; sent: () => number; wasCut: () => boolean; close: () => Promise<void> }>;
