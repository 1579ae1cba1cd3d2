export function runPytest(): { status: number | null; output: string };
