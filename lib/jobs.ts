/**
 * Scheduled work (presence sweeps, log trimming) that one instance of a
 * deployment does at a time. Each run claims the job's key in KV for its
 * period with a checked write, so however many instances tick, one runs it.
 * On Deno Deploy, `Deno.cron` ticks (registered in `main.ts`); elsewhere a
 * timer does.
 *
 * @module
 */
import { jobKey } from "./keys.ts";
import { retryLocked } from "./kv_retry.ts";

/** A piece of scheduled work. */
export interface Job {
  /** Unique among jobs; names the claim key. */
  name: string;
  /** How often it should run. */
  everyMs: number;
  run(): Promise<void>;
}

interface Claim {
  by: string;
  until: number;
}

/**
 * Runs jobs when due, once per period across every instance.
 *
 * @example
 * ```ts
 * const jobs = new Jobs(kv, Date.now, "instance-1", [{ name: "trim", everyMs: 60_000, run }]);
 * jobs.start(); // or call jobs.runDue() from Deno.cron
 * ```
 */
export class Jobs {
  #kv: Deno.Kv;
  #clock: () => number;
  #instanceId: string;
  #jobs: Job[];
  #running = new Set<string>();
  #timer?: ReturnType<typeof setInterval>;

  constructor(kv: Deno.Kv, clock: () => number, instanceId: string, jobs: Job[]) {
    this.#kv = kv;
    this.#clock = clock;
    this.#instanceId = instanceId;
    this.#jobs = jobs;
  }

  /** Ticks on a timer, as often as the most frequent job wants. */
  start(): void {
    const every = Math.min(...this.#jobs.map((j) => j.everyMs));
    this.#timer = setInterval(() => this.runDue(), every);
  }

  /** Stops the timer; a run in progress finishes. */
  stop(): void {
    clearInterval(this.#timer);
  }

  /** Runs every job that is due and that no other instance has claimed for this period. */
  async runDue(): Promise<void> {
    await Promise.all(this.#jobs.map(async (job) => {
      if (this.#running.has(job.name) || !await this.#claim(job)) return;
      this.#running.add(job.name);
      try {
        await job.run();
      } catch (error) {
        console.error(`job ${job.name} failed`, error);
      } finally {
        this.#running.delete(job.name);
      }
    }));
  }

  async #claim(job: Job): Promise<boolean> {
    const now = this.#clock();
    try {
      return await retryLocked(async () => {
        const entry = await this.#kv.get<Claim>(jobKey(job.name));
        // A little early, so a timer that fires a moment before the period ends still runs.
        if (entry.value && entry.value.until > now + job.everyMs / 10) return false;
        const claim: Claim = { by: this.#instanceId, until: now + job.everyMs };
        return (await this.#kv.atomic().check(entry).set(jobKey(job.name), claim).commit()).ok;
      });
    } catch (error) {
      console.error(`claiming job ${job.name} failed`, error);
      return false;
    }
  }
}
