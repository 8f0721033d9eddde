/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Forecasters and their ensemble (forecast.h).
 *
 * Every count-based model turns its expected count into a probability as
 * a Poisson process would: P(at least one) = 1 - exp(-expected). The gap
 * model is the exception: it knows when the next session is due, so its
 * probability is that of the due time falling in the horizon.
 *
 * The fine and coarse bins are read "from the first bin that saw an
 * access": the zeros before a file's first access are not history (the
 * file may not have existed), and counting them would show a rise where
 * there is only a beginning. The bin of `now` is partial, so the
 * seasonal and trend models learn from complete bins only. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_fit.h>

#include "predict/forecast.h"

#define NS_PER_S 1e9
#define DAY_S 86400.0
#define HOUR_S 3600.0
#define EPS_COUNT 1e-3                 /* accesses: keeps the ratios of an
					* idle file finite (0/0 is no change) */
#define PEAK_PROMINENCE 0.2            /* a period's autocorrelation stands
					* this far above the dip before it */
#define GAP_MAX_CV 1.0                 /* gaps more irregular than a Poisson
					* process's say nothing of the next */
#define GAP_MIN_SD 0.02                /* of the mean gap: a perfectly regular
					* history still has a spread */
#define GAP_MIN_GAPS 3
#define PREFETCH_MAX_CV 0.5            /* gaps regular enough to fetch ahead */
#define TREND_MIN_BINS 3
#define SEASON_MAX_BINS (4.0 * SERIES_FINE) /* horizon bins visited */
#define GBT_MAX_PROB 0.999             /* expected = -ln(1 - p) stays < 7 */
#define CONF_SESSIONS 8.0              /* sessions: history term at 63% */
#define CONF_UNKNOWN_LOSS 0.125        /* Brier loss assumed before scoring */
#define ENSEMBLE_MIN_SCORED 10
#define LOSS_MIN_ALPHA 0.05            /* moving average of the Brier score */
#define ANOMALY_MIN_BINS 4             /* bins of history before the current */
#define ACC_ENC_VERSION 1u

void predict_defaults(struct predict_params *p)
{
	series_defaults(&p->series);
	p->horizon[0] = 300;
	p->horizon[1] = 3600;
	p->window = 30 * DAY_S;
	p->half_life = DAY_S;
	p->min_acf = 0.5;
	p->rise = 0.5;
	p->rise_confidence = 0.7;
	p->fall = 0.8;
	p->fall_confidence = 0.8;
	p->anomaly_sigma = 3;
}

void ensemble_init(struct predict_ensemble *e)
{
	memset(e, 0, sizeof(*e));
	for (int m = 0; m < PM_COUNT; m++)
		e->weight[m] = 1.0 / PM_COUNT;
}

/* ---- the forecasters ---- */

int predict_linear(const double *y, size_t n, double *a, double *b,
		   double *r2)
{
	double c0, c1, cov00, cov01, cov11, sumsq, mean = 0, sst = 0;
	double *x;
	size_t i;

	if (n < 3)
		return -EINVAL;
	x = malloc(n * sizeof(*x));
	if (!x)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		x[i] = (double)i;
		mean += y[i];
	}
	mean /= (double)n;
	gsl_fit_linear(x, 1, y, 1, n, &c0, &c1, &cov00, &cov01, &cov11,
		       &sumsq);
	free(x);
	for (i = 0; i < n; i++)
		sst += (y[i] - mean) * (y[i] - mean);
	*a = c0;
	*b = c1;
	/* Rounding can leave a perfect fit a hair outside 0..1. */
	*r2 = sst > 0 ? fmin(1.0, fmax(0.0, 1.0 - sumsq / sst)) : 0;
	return 0;
}

size_t predict_period(const double *y, size_t n, size_t maxlag, double min_acf,
		      double *acf)
{
	double mean = 0, var = 0, c, lowest, best = -INFINITY;
	size_t k, t, lag = 0;

	for (k = 0; k < maxlag; k++)
		acf[k] = 0;
	if (n < 2 || maxlag < 3)
		return 0;
	for (t = 0; t < n; t++)
		mean += y[t];
	mean /= (double)n;
	for (t = 0; t < n; t++)
		var += (y[t] - mean) * (y[t] - mean);
	if (!(var > 1e-9))
		return 0;
	for (k = 1; k <= maxlag && k < n; k++) {
		c = 0;
		for (t = 0; t + k < n; t++)
			c += (y[t] - mean) * (y[t + k] - mean);
		acf[k - 1] = c / var;
	}
	/* A period is a peak: higher than the lag before and not lower than
	 * the one after, and well above (0.2) the lowest correlation at
	 * shorter lags. Without that last test the wandering decline of a
	 * random walk has a "period" about once in a hundred (test_predict
	 * counts). Lag 1 cannot be a period, nor can maxlag (nothing after
	 * it). */
	lowest = acf[0];
	for (k = 2; k < maxlag; k++) {
		c = acf[k - 1];
		if (c > acf[k - 2] && c >= acf[k] && c >= min_acf &&
		    c - lowest >= PEAK_PROMINENCE && c > best) {
			best = c;
			lag = k;
		}
		lowest = fmin(lowest, c);
	}
	return lag;
}

/* What the models share. y holds the fine bins up to the bin of now,
 * y[SERIES_FINE - 1] being the current, partial one. */
struct fc {
	const struct predict_params *p;
	const struct access_stats *st;
	const struct access_series *se;
	int64_t now;
	double now_s;                  /* now in seconds */
	double bin;                    /* seconds per fine bin */
	double y[SERIES_FINE];
	size_t first;                  /* index of the first bin with an
					* access; SERIES_FINE: none */
	double since;                  /* seconds of history */
	size_t period;                 /* bins; 0 none */
};

static double poisson_prob(double expected)
{
	return expected > 0 ? -expm1(-expected) : 0;
}

static void set_probs(struct model_forecast *m)
{
	for (int h = 0; h < PREDICT_HORIZONS; h++)
		m->prob[h] = poisson_prob(m->expected[h]);
	m->valid = 1;
}

/* Start in seconds of the fine bin of now (as series.c bins it). */
static double bin_start(const struct fc *c)
{
	return floor(c->now_s / c->bin) * c->bin;
}

/* Share of fine bin j (0: the bin of now) inside [now, now + H). */
static double overlap(const struct fc *c, size_t j, double H)
{
	double b0 = bin_start(c) + (double)j * c->bin;
	double lo = fmax(b0, c->now_s), hi = fmin(b0 + c->bin, c->now_s + H);

	return hi > lo ? (hi - lo) / c->bin : 0;
}

static void model_baseline(const struct fc *c, struct model_forecast *m)
{
	double freq, hl = c->p->half_life, rate;

	if (c->st) {
		if (c->st->last == 0 && c->st->freq == 0)
			return;
		freq = stats_freq(c->st, c->now, hl);
	} else {
		hl = c->p->series.half_life[SERIES_HALF_LIVES - 1];
		freq = series_decayed(c->se, &c->p->series,
				      SERIES_HALF_LIVES - 1, c->now);
	}
	/* A steady rate r gives a decayed count of r * half_life / ln 2. */
	rate = freq * M_LN2 / hl;
	for (int h = 0; h < PREDICT_HORIZONS; h++)
		m->expected[h] = rate * c->p->horizon[h];
	set_probs(m);
}

static void model_trend(const struct fc *c, struct forecast *f,
			struct model_forecast *m)
{
	const struct predict_params *p = c->p;
	double y[SERIES_COARSE], cw, a, b, r2, x, start;
	size_t win, from, n;
	int64_t fb;

	cw = p->series.bin * (p->series.per_coarse ? p->series.per_coarse : 1);
	series_coarse(c->se, &p->series, c->now, y, SERIES_COARSE);
	/* Complete coarse bins of the window: all but the last. */
	win = (size_t)fmin(SERIES_COARSE - 1, floor(p->window / cw));
	from = SERIES_COARSE - 1 - win;
	while (from < SERIES_COARSE - 1 && y[from] == 0)
		from++;
	n = SERIES_COARSE - 1 - from;
	if (n < TREND_MIN_BINS || predict_linear(y + from, n, &a, &b, &r2))
		return;
	f->slope = b;
	f->r2 = r2;
	/* Bin centres are x = 0..n-1; the current bin starts at n - 0.5. A
	 * line's integral over the horizon is its value at the middle. */
	fb = (int64_t)floor(c->now_s / p->series.bin);
	start = (double)(fb - fb % (int64_t)(p->series.per_coarse ?
					     p->series.per_coarse : 1)) *
		p->series.bin;
	for (int h = 0; h < PREDICT_HORIZONS; h++) {
		x = (double)n - 0.5 +
		    (c->now_s - start + p->horizon[h] / 2) / cw;
		m->expected[h] = fmax(0.0, a + b * x) * p->horizon[h] / cw;
	}
	set_probs(m);
}

/* Mean count of the complete bins one and more periods before bin i
 * (an index of c->y, may be past the current bin). */
static double phase_mean(const struct fc *c, size_t i)
{
	double sum = 0;
	size_t k = 1, idx, cnt = 0;

	/* Start at the first multiple of the period that lands in a
	 * complete bin, so a far bin costs no more than a near one. */
	if (i > SERIES_FINE - 2)
		k = (i - (SERIES_FINE - 2) + c->period - 1) / c->period;
	if (k == 0)
		k = 1;
	for (; k * c->period <= i; k++) {
		idx = i - k * c->period;
		if (idx < c->first)
			break;
		if (idx >= SERIES_FINE - 1)
			continue;
		sum += c->y[idx];
		cnt++;
	}
	return cnt ? sum / (double)cnt : 0;
}

/* The hour-of-day (and, with two weeks of history, day-of-week) profile
 * of st scaled to the rate of the last day: expected accesses in
 * [now, now + H). */
static double profile_expected(const struct fc *c, double H)
{
	const struct access_stats *st = c->st;
	double hours = 0, days = 0, level = 0, sum = 0, t, end, seg, w;
	size_t k, i, look;
	int64_t s;
	int steps;

	for (i = 0; i < STATS_HOURS; i++)
		hours += st->hour[i];
	for (i = 0; i < STATS_DAYS; i++)
		days += st->dow[i];
	if (hours <= 0)
		return 0;
	look = (size_t)fmax(1.0, fmin(SERIES_FINE - 1, round(DAY_S / c->bin)));
	for (k = SERIES_FINE - 1 - look; k < SERIES_FINE - 1; k++)
		level += c->y[k];
	level /= (double)look * c->bin;        /* accesses per second */
	/* One step per hour of day the horizon touches; bounded by a year. */
	for (t = c->now_s, end = c->now_s + H, steps = 0;
	     t < end && steps < 24 * 366; t += seg, steps++) {
		seg = fmin(end, (floor(t / HOUR_S) + 1) * HOUR_S) - t;
		s = t > 0 ? (int64_t)t : 0;  /* as stats_add bins it */
		w = 24 * st->hour[(s / 3600) % STATS_HOURS] / hours;
		if (days > 0 && c->since >= 14 * DAY_S)
			w *= 7 * st->dow[(s / 86400 + 4) % STATS_DAYS] / days;
		sum += seg * level * w;
	}
	return sum;
}

static void model_seasonal(struct fc *c, struct forecast *f,
			   struct model_forecast *m)
{
	double acf[SERIES_FINE / 2];
	size_t len, j, nj;
	double H, e, share;

	len = c->first < SERIES_FINE - 1 ? SERIES_FINE - 1 - c->first : 0;
	if (len >= 8)
		c->period = predict_period(c->y + c->first, len, len / 2,
					   c->p->min_acf, acf);
	if (c->period) {
		f->period = (double)c->period * c->bin;
		f->acf = acf[c->period - 1];
		for (int h = 0; h < PREDICT_HORIZONS; h++) {
			H = c->p->horizon[h];
			nj = (size_t)fmin(ceil(H / c->bin) + 1, SEASON_MAX_BINS);
			e = 0;
			share = 0;
			for (j = 0; j <= nj; j++) {
				share += overlap(c, j, H);
				e += overlap(c, j, H) *
				     phase_mean(c, SERIES_FINE - 1 + j);
			}
			/* A horizon of many periods repeats the pattern:
			 * the bins not visited count at the mean rate of
			 * those that were. */
			if (share > 0 && share < H / c->bin)
				e *= H / c->bin / share;
			m->expected[h] = e;
		}
		set_probs(m);
		return;
	}
	/* The profile needs the ring for its level: a file whose series
	 * holds nothing recent has no level to scale it to. */
	if (!c->st || c->since < 2 * DAY_S || c->first >= SERIES_FINE)
		return;
	for (int h = 0; h < PREDICT_HORIZONS; h++)
		m->expected[h] = profile_expected(c, c->p->horizon[h]);
	set_probs(m);
}

static double normal_cdf(double z)
{
	return 0.5 * erfc(-z / M_SQRT2);
}

/* The next session is due a mean gap after the start of the last one
 * (or whole gaps later, if that is past); its time is taken as normal
 * around that with the gaps' spread, and we know it is not before now. */
static void model_gap(const struct fc *c, int64_t *next,
		      struct model_forecast *m)
{
	const struct access_series *se = c->se;
	double mean = se->gap_mean, sd, due, z0, z1, tail, per_session;

	if (se->gaps < GAP_MIN_GAPS || !(mean > 0) ||
	    sqrt(se->gap_var) > GAP_MAX_CV * mean)
		return;
	sd = fmax(sqrt(se->gap_var), fmax(GAP_MIN_SD * mean,
					  c->p->series.burst));
	due = (double)se->session / NS_PER_S + mean;
	if (due < c->now_s)
		due += ceil((c->now_s - due) / mean) * mean;
	/* Past the last representable ns (year 2262): unknown. */
	*next = due * NS_PER_S < 0x1p63 ? (int64_t)llround(due * NS_PER_S) : 0;
	per_session = (double)((uint64_t)se->reads + se->writes) /
		      ((double)se->gaps + 1);
	if (per_session < 1)
		per_session = 1;
	z0 = (c->now_s - due) / sd;
	tail = 1 - normal_cdf(z0);     /* >= 1/2: due >= now */
	for (int h = 0; h < PREDICT_HORIZONS; h++) {
		z1 = (c->now_s + c->p->horizon[h] - due) / sd;
		m->prob[h] = fmin(1.0, (normal_cdf(z1) - normal_cdf(z0)) / tail);
		m->expected[h] = c->p->horizon[h] / mean * per_session;
	}
	m->valid = 1;
}

int64_t forecast_next_access(const struct access_series *se, int64_t now,
			     int *regular)
{
	double mean = se->gap_mean, due;

	*regular = 0;
	if (!se->last || se->gaps == 0 || !(mean > 0))
		return 0;
	due = (double)se->session / NS_PER_S + mean;
	/* Missed by more than a gap: the rhythm it had is no guide now. */
	if (due + mean < (double)now / NS_PER_S)
		return 0;
	if (!(due * NS_PER_S < 0x1p63))
		return 0;
	*regular = se->gaps >= GAP_MIN_GAPS &&
		   sqrt(se->gap_var) <= PREFETCH_MAX_CV * mean;
	return (int64_t)llround(due * NS_PER_S);
}

static void model_gbt(const double *gbt_prob, struct model_forecast *m)
{
	double pr;

	if (!gbt_prob)
		return;
	for (int h = 0; h < PREDICT_HORIZONS; h++)
		if (!isfinite(gbt_prob[h]))
			return;
	for (int h = 0; h < PREDICT_HORIZONS; h++) {
		pr = fmin(GBT_MAX_PROB, fmax(0.0, gbt_prob[h]));
		m->prob[h] = pr;
		m->expected[h] = -log1p(-pr);
	}
	m->valid = 1;
}

/* The first access the period predicts: the first bin from now on whose
 * bins a period and more back saw accesses, unless the current one
 * already had its share. 0 none. */
static int64_t period_next(const struct fc *c)
{
	size_t j;
	double pm;

	for (j = 0; j < c->period; j++) {
		pm = phase_mean(c, SERIES_FINE - 1 + j);
		if (pm <= 0)
			continue;
		if (j == 0) {
			if (c->y[SERIES_FINE - 1] >= pm)
				continue;
			return c->now;
		}
		return (int64_t)llround((bin_start(c) + (double)j * c->bin) *
					NS_PER_S);
	}
	return 0;
}

static int history_empty(const struct access_stats *st,
			 const struct access_series *se)
{
	return se->fine_head < 0 && se->last == 0 &&
	       (!st || (st->last == 0 && stats_count(st) == 0));
}

/* Weights of the valid models, summing to 1 (0 for the others). */
static void mix_weights(const struct forecast *f,
			const struct predict_ensemble *e, double *w)
{
	double sum = 0;
	int m;

	for (m = 0; m < PM_COUNT; m++) {
		w[m] = 0;
		if (!f->m[m].valid)
			continue;
		w[m] = e ? e->weight[m] : 1;
		if (!(w[m] > 0) || !isfinite(w[m]))
			w[m] = 0;
		sum += w[m];
	}
	if (sum <= 0) {
		/* The weights ignore every valid model (e.g. the trees have
		 * just appeared): fall back to equal ones. */
		for (m = 0; m < PM_COUNT; m++) {
			w[m] = f->m[m].valid ? 1 : 0;
			sum += w[m];
		}
	}
	for (m = 0; m < PM_COUNT; m++)
		w[m] = sum > 0 ? w[m] / sum : 0;
}

/* History (sessions seen), agreement (spread of the valid forecasting
 * models' probabilities for the longer horizon, the baseline left out) and accuracy (their Brier
 * losses, once scored), into one 0..1 figure. */
static double confidence(const struct fc *c, const struct forecast *f,
			 const struct predict_ensemble *e, const double *w)
{
	double sessions, hist, spread = 0, agree, loss = 0, lw = 0, acc, d;
	double mean = 0, mw = 0;
	int m, h = PREDICT_HORIZONS - 1;

	sessions = (double)c->se->gaps + (c->se->last ? 1 : 0);
	if (sessions == 0 && c->st)
		sessions = (double)stats_count(c->st);
	hist = -expm1(-sessions / CONF_SESSIONS);
	/* Agreement among the models that look ahead: the baseline is the
	 * reactive view a forecast is measured against, and disagreeing
	 * with it is what a forecast is for. */
	for (m = 0; m < PM_COUNT; m++) {
		if (w[m] <= 0 || m == PM_BASELINE)
			continue;
		mean += w[m] * f->m[m].prob[h];
		mw += w[m];
	}
	mean = mw > 0 ? mean / mw : 0;
	for (m = 0; m < PM_COUNT; m++) {
		if (w[m] <= 0)
			continue;
		if (m != PM_BASELINE) {
			d = f->m[m].prob[h] - mean;
			spread += w[m] / mw * d * d;
		}
		if (e && e->scored[m] >= ENSEMBLE_MIN_SCORED) {
			loss += w[m] * e->loss[m];
			lw += w[m];
		}
	}
	/* The standard deviation of numbers in 0..1 is at most 1/2. */
	agree = fmax(0.0, 1 - 2 * sqrt(spread));
	/* A Brier loss of 1/4 is a coin's: no skill. */
	loss = lw > 0 ? loss / lw : CONF_UNKNOWN_LOSS;
	acc = fmin(1.0, fmax(0.0, 1 - 4 * loss));
	return fmin(1.0, fmax(0.0, hist * (agree + acc) / 2));
}

void forecast_eval(const struct predict_params *p,
		   const struct access_stats *st,
		   const struct access_series *se,
		   const struct predict_ensemble *e, const double *gbt_prob,
		   int64_t now, struct forecast *out)
{
	struct fc c;
	double w[PM_COUNT], b;
	int64_t gap_next = 0;
	int m, h, any = 0;

	memset(out, 0, sizeof(*out));
	if (history_empty(st, se))
		return;
	memset(&c, 0, sizeof(c));
	c.p = p;
	c.st = st;
	c.se = se;
	c.now = now;
	c.now_s = (double)now / NS_PER_S;
	c.bin = p->series.bin;
	series_fine(se, &p->series, now, c.y, SERIES_FINE);
	for (c.first = 0; c.first < SERIES_FINE && c.y[c.first] == 0;
	     c.first++)
		;
	if (st && st->first)
		c.since = (double)(now - st->first) / NS_PER_S;
	else if (c.first < SERIES_FINE)
		c.since = (double)(SERIES_FINE - 1 - c.first) * c.bin;

	model_baseline(&c, &out->m[PM_BASELINE]);
	model_trend(&c, out, &out->m[PM_TREND]);
	model_seasonal(&c, out, &out->m[PM_SEASONAL]);
	model_gap(&c, &gap_next, &out->m[PM_GAP]);
	model_gbt(gbt_prob, &out->m[PM_GBT]);

	mix_weights(out, e, w);
	for (m = 0; m < PM_COUNT; m++) {
		if (w[m] <= 0)
			continue;
		any = 1;
		for (h = 0; h < PREDICT_HORIZONS; h++) {
			out->expected[h] += w[m] * out->m[m].expected[h];
			out->prob[h] += w[m] * out->m[m].prob[h];
		}
	}
	if (!any)
		return;
	if (out->m[PM_GAP].valid)
		out->next = gap_next;
	else if (c.period)
		out->next = period_next(&c);
	/* Against the baseline, both kept finite and 0/0 meaning no change
	 * with EPS_COUNT. */
	b = out->m[PM_BASELINE].expected[PREDICT_HORIZONS - 1];
	out->change = (out->expected[PREDICT_HORIZONS - 1] + EPS_COUNT) /
		      (b + EPS_COUNT) - 1;
	b = out->m[PM_BASELINE].expected[0];
	out->trend = tanh(log((out->expected[0] + EPS_COUNT) /
			      (b + EPS_COUNT)));
	/* inf against inf (counts past what a double holds): no change */
	if (!isfinite(out->change))
		out->change = 0;
	if (isnan(out->trend))
		out->trend = 0;
	out->confidence = confidence(&c, out, e, w);
}

double predict_anomaly(const struct predict_params *p,
		       const struct access_series *se, int64_t now)
{
	double y[SERIES_FINE], mean = 0, var = 0, sd, cur;
	size_t first, look, from, i, n;

	if (se->fine_head < 0)
		return 0;
	series_fine(se, &p->series, now, y, SERIES_FINE);
	for (first = 0; first < SERIES_FINE && y[first] == 0; first++)
		;
	if (first + ANOMALY_MIN_BINS > SERIES_FINE - 1)
		return 0;
	look = (size_t)fmax(ANOMALY_MIN_BINS,
			    fmin(SERIES_FINE - 1, round(DAY_S / p->series.bin)));
	from = SERIES_FINE - 1 - look;
	if (from < first)
		from = first;
	n = SERIES_FINE - 1 - from;
	for (i = from; i < SERIES_FINE - 1; i++)
		mean += y[i];
	mean /= (double)n;
	for (i = from; i < SERIES_FINE - 1; i++)
		var += (y[i] - mean) * (y[i] - mean);
	var /= (double)n;
	cur = y[SERIES_FINE - 1];
	/* Floors: a Poisson count's spread (sqrt of its mean), and one
	 * access, so a steady or idle file's next access is not infinitely
	 * surprising. */
	sd = fmax(sqrt(var), fmax(sqrt(mean), 1.0));
	return (cur - mean) / sd;
}

/* ---- scoring ---- */

static void score_add(struct predict_score *s, double expected, double prob,
		      double actual)
{
	double hit = actual > 0 ? 1 : 0;

	s->n++;
	s->sum_abs += fabs(expected - actual);
	s->sum_sq += (expected - actual) * (expected - actual);
	s->sum_y += actual;
	s->sum_y2 += actual * actual;
	s->sum_brier += (prob - hit) * (prob - hit);
}

void accuracy_add(struct predict_accuracy *a, struct predict_ensemble *e,
		  const struct forecast *f, int h, double actual, int promoted,
		  int demoted)
{
	const struct model_forecast *mf;
	double brier, alpha;
	int m, hit;

	if (h < 0 || h >= PREDICT_HORIZONS || !isfinite(actual) || actual < 0)
		return;
	hit = actual > 0;
	for (m = 0; m < PM_COUNT; m++) {
		mf = &f->m[m];
		if (!mf->valid)
			continue;
		score_add(&a->h[h][m], mf->expected[h], mf->prob[h], actual);
		if (!e)
			continue;
		/* The mean of the first scores, then a moving average that
		 * follows a model whose skill changes. */
		brier = (mf->prob[h] - hit) * (mf->prob[h] - hit);
		e->scored[m]++;
		alpha = fmax(1.0 / (double)e->scored[m], LOSS_MIN_ALPHA);
		e->loss[m] += alpha * (brier - e->loss[m]);
	}
	score_add(&a->h[h][PM_ENSEMBLE], f->expected[h], f->prob[h], actual);
	if (promoted) {
		a->promoted++;
		if (hit)
			a->promoted_hit++;
	}
	if (demoted) {
		a->demoted++;
		if (!hit)
			a->demoted_miss++;
	}
	if (hit) {
		a->accessed++;
		if (promoted)
			a->accessed_promoted++;
	}
}

static const struct predict_score *score_of(const struct predict_accuracy *a,
					    int h, int m)
{
	if (h < 0 || h >= PREDICT_HORIZONS || m < 0 || m > PM_ENSEMBLE)
		return NULL;
	return &a->h[h][m];
}

double accuracy_mae(const struct predict_accuracy *a, int h, int m)
{
	const struct predict_score *s = score_of(a, h, m);

	return s && s->n ? s->sum_abs / (double)s->n : 0;
}

double accuracy_rmse(const struct predict_accuracy *a, int h, int m)
{
	const struct predict_score *s = score_of(a, h, m);

	return s && s->n ? sqrt(s->sum_sq / (double)s->n) : 0;
}

double accuracy_r2(const struct predict_accuracy *a, int h, int m)
{
	const struct predict_score *s = score_of(a, h, m);
	double sst;

	if (!s || s->n < 2)
		return 0;
	sst = s->sum_y2 - s->sum_y * s->sum_y / (double)s->n;
	/* Relative threshold: sst is a difference of large sums. */
	if (!(sst > 1e-12 * fmax(1.0, s->sum_y2)))
		return 0;
	return 1 - s->sum_sq / sst;
}

double accuracy_precision(const struct predict_accuracy *a)
{
	return a->promoted ? (double)a->promoted_hit / (double)a->promoted : 0;
}

double accuracy_recall(const struct predict_accuracy *a)
{
	return a->accessed ? (double)a->accessed_promoted / (double)a->accessed
			   : 0;
}

int accuracy_trusted(const struct predict_accuracy *a)
{
	return !(a->promoted >= 20 && 2 * a->promoted_hit < a->promoted);
}

void ensemble_update(struct predict_ensemble *e)
{
	double raw[PM_COUNT], avg = 0, sum = 0;
	int m, n = 0;

	for (m = 0; m < PM_COUNT; m++) {
		raw[m] = 0;
		if (e->scored[m] >= ENSEMBLE_MIN_SCORED) {
			raw[m] = 1 / (e->loss[m] + 0.01);
			avg += raw[m];
			n++;
		}
	}
	avg = n ? avg / n : 1;
	for (m = 0; m < PM_COUNT; m++) {
		/* A model not yet judged (it may have lacked the history
		 * until now) gets a fair share until it is. */
		if (e->scored[m] < ENSEMBLE_MIN_SCORED)
			raw[m] = avg;
		sum += raw[m];
	}
	for (m = 0; m < PM_COUNT; m++)
		e->weight[m] = sum > 0 ? raw[m] / sum : 1.0 / PM_COUNT;
}

/* ---- encoding: version (8 bytes), the scores (n, then five
 * doubles) by horizon and model, the six counters, then the ensemble's
 * weights, losses and counts; little-endian ---- */

#define ACC_ENC_SIZE (8 + PREDICT_HORIZONS * (PM_COUNT + 1) * 48 + 6 * 8 + \
		      PM_COUNT * 24)
_Static_assert(ACC_ENC_SIZE <= PREDICT_ACC_ENC_MAX,
	       "PREDICT_ACC_ENC_MAX too small");

static uint8_t *put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + 8;
}

static const uint8_t *get64(const uint8_t *p, uint64_t *v)
{
	*v = 0;
	for (int i = 0; i < 8; i++)
		*v |= (uint64_t)p[i] << (8 * i);
	return p + 8;
}

static uint8_t *putd(uint8_t *p, double d)
{
	uint64_t bits;

	memcpy(&bits, &d, sizeof(bits));
	return put64(p, bits);
}

/* Reads a double that must be finite and, with nonneg, >= 0. */
static const uint8_t *getd(const uint8_t *p, double *d, int nonneg, int *bad)
{
	uint64_t bits;

	p = get64(p, &bits);
	memcpy(d, &bits, sizeof(*d));
	if (!isfinite(*d) || (nonneg && *d < 0))
		*bad = 1;
	return p;
}

size_t accuracy_encode(const struct predict_accuracy *a,
		       const struct predict_ensemble *e, uint8_t *out)
{
	struct predict_ensemble none;
	const struct predict_score *s;
	uint8_t *p = out;
	int h, m;

	if (!e) {
		ensemble_init(&none);
		e = &none;
	}
	p = put64(p, ACC_ENC_VERSION);
	for (h = 0; h < PREDICT_HORIZONS; h++) {
		for (m = 0; m <= PM_ENSEMBLE; m++) {
			s = &a->h[h][m];
			p = put64(p, s->n);
			p = putd(p, s->sum_abs);
			p = putd(p, s->sum_sq);
			p = putd(p, s->sum_y);
			p = putd(p, s->sum_y2);
			p = putd(p, s->sum_brier);
		}
	}
	p = put64(p, a->promoted);
	p = put64(p, a->promoted_hit);
	p = put64(p, a->demoted);
	p = put64(p, a->demoted_miss);
	p = put64(p, a->accessed);
	p = put64(p, a->accessed_promoted);
	for (m = 0; m < PM_COUNT; m++)
		p = putd(p, e->weight[m]);
	for (m = 0; m < PM_COUNT; m++)
		p = putd(p, e->loss[m]);
	for (m = 0; m < PM_COUNT; m++)
		p = put64(p, e->scored[m]);
	return (size_t)(p - out);
}

int accuracy_decode(const void *buf, size_t len, struct predict_accuracy *a,
		    struct predict_ensemble *e)
{
	const uint8_t *p = buf;
	struct predict_accuracy ra;
	struct predict_ensemble re;
	struct predict_score *s;
	uint64_t v;
	int h, m, bad = 0;

	if (len != ACC_ENC_SIZE)
		return -EUCLEAN;
	p = get64(p, &v);
	if (v != ACC_ENC_VERSION)
		return -EUCLEAN;
	for (h = 0; h < PREDICT_HORIZONS; h++) {
		for (m = 0; m <= PM_ENSEMBLE; m++) {
			s = &ra.h[h][m];
			p = get64(p, &s->n);
			p = getd(p, &s->sum_abs, 1, &bad);
			p = getd(p, &s->sum_sq, 1, &bad);
			p = getd(p, &s->sum_y, 1, &bad);
			p = getd(p, &s->sum_y2, 1, &bad);
			p = getd(p, &s->sum_brier, 1, &bad);
		}
	}
	p = get64(p, &ra.promoted);
	p = get64(p, &ra.promoted_hit);
	p = get64(p, &ra.demoted);
	p = get64(p, &ra.demoted_miss);
	p = get64(p, &ra.accessed);
	p = get64(p, &ra.accessed_promoted);
	for (m = 0; m < PM_COUNT; m++)
		p = getd(p, &re.weight[m], 1, &bad);
	for (m = 0; m < PM_COUNT; m++)
		p = getd(p, &re.loss[m], 1, &bad);
	for (m = 0; m < PM_COUNT; m++)
		p = get64(p, &re.scored[m]);
	if (bad || ra.promoted_hit > ra.promoted ||
	    ra.demoted_miss > ra.demoted ||
	    ra.accessed_promoted > ra.accessed)
		return -EUCLEAN;
	*a = ra;
	if (e)
		*e = re;
	return 0;
}
