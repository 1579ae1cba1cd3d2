// Before each test of every worker test file: a caller of its own (test/worker/helpers.ts).
import { beforeEach } from "vitest";
import { newCaller } from "./helpers";

beforeEach(newCaller);
