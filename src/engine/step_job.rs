//! One step's execution, off the actor on the blocking pool: its tools (memoized), its
//! route, its context fitted to the budget, the analyst's answer, and the stored output.

use std::sync::{Arc, OnceLock};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::events::EngineEvent;
use super::handle::EngineConfig;
use crate::cache::{ResultStore, StoredValue};
use crate::config::AnswerPolicy;
use crate::context::{self, ContextInputs, Upstream};
use crate::data::Dataset;
use crate::flow::{ContextSource, Flow, StepCoverage};
use crate::llm::{Answer, AnswerRequest, LlmError};
use crate::memory::Origin;
use crate::reference::Reference;
use crate::settings::StepSettings;
use crate::step_output::{AnswerCheck, StepContext, StepOutput, ToolRecord};
use crate::tools::fact_check;
use crate::tools::{Fact, Rollup, Rows, ToolCall, ToolOutput, unique_by_key};

/// How a step task ended.
pub(super) enum Outcome {
    Finished {
        output: Arc<StepOutput>,
        reference: Reference,
        cached: bool,
    },
    Failed(String),
    Cancelled,
    /// None of the step's tools can run on the data (the reason says what it lacks): the
    /// step is skipped and its listeners run without it.
    Unavailable(String),
}

/// The dataset's rollup, built by the first tool that groups it and shared by the rest.
pub(super) type SharedRollup = Arc<OnceLock<Option<Rollup>>>;

/// A tool's output with the reference it is memoized under.
type OwnOutput = (Reference, Arc<ToolOutput>);

/// Everything a step needs to run off the actor, on the blocking pool.
pub(super) struct StepJob {
    pub(super) flow: Arc<Flow>,
    pub(super) index: usize,
    pub(super) is_final: bool,
    pub(super) dataset: Arc<Dataset>,
    pub(super) rollup: SharedRollup,
    pub(super) store: Arc<ResultStore>,
    pub(super) config: EngineConfig,
    pub(super) inputs: Vec<(String, Reference)>,
    pub(super) settings: StepSettings,
    pub(super) run: u64,
    pub(super) events: mpsc::UnboundedSender<EngineEvent>,
    pub(super) token: CancellationToken,
}

impl StepJob {
    fn emit(&self, event: EngineEvent) {
        let _ = self.events.send(event);
    }

    /// The dataset's rows for `call`, with the rollup by every column the flow's tools
    /// group by when two or more calls group (built by the first that needs it: a run whose
    /// tools all come from the memo never builds it).
    fn rows(&self, call: &ToolCall) -> Rows<'_> {
        let frame = &self.dataset.frame;
        let calls = || self.flow.steps().iter().flat_map(|s| s.tools.iter());
        let grouping = calls().filter(|c| !c.group_keys().is_empty()).count();
        if call.group_keys().is_empty() || grouping < 2 {
            return Rows {
                dataset: Some(self.dataset.frame_reference()),
                grouped: self.dataset.profile.grouped.as_ref(),
                ..frame.into()
            };
        }
        let rollup = self.rollup.get_or_init(|| {
            let mut keys: Vec<String> = calls().flat_map(|c| c.group_keys()).collect();
            keys.sort();
            keys.dedup();
            Rollup::build(frame, &keys).ok().flatten()
        });
        Rows {
            frame,
            rollup: rollup.as_ref(),
            dataset: Some(self.dataset.frame_reference()),
            grouped: self.dataset.profile.grouped.as_ref(),
        }
    }

    /// Long-term memory's hits for this step, when it has a `memory` context item: from
    /// earlier analyses in its lane (the same source or project). Insights about this same
    /// dataset are left out: the step's context has them already, exactly.
    fn recall(&self) -> Vec<String> {
        let def = self.flow.step(self.index);
        let wants = def.context.iter().any(|c| c.source == ContextSource::Memory);
        match &self.config.memory {
            Some(memory) if wants => {
                let scope = memory.lane(&self.dataset.source(), &self.dataset.reference.to_string());
                memory
                    .recall(&def.task, &scope, &self.config.tokenizer)
                    .iter()
                    .map(|h| h.line())
                    .collect()
            }
            _ => vec![],
        }
    }

    /// Stores the step's key findings in long-term memory.
    fn remember(&self, output: &StepOutput) {
        if let Some(memory) = &self.config.memory {
            let origin = Origin {
                flow: self.flow.name().to_string(),
                dataset: self.dataset.reference.to_string(),
                source: self.dataset.source(),
                project: String::new(),
            };
            memory.remember_step(&origin, &output.step, &output.facts);
        }
    }

    /// Everything that determines this step's output.
    fn memo_reference(&self, memory: &[String]) -> Reference {
        let def = serde_json::to_vec(self.flow.step(self.index)).expect("steps serialize");
        let settings = serde_json::to_vec(&(
            &self.settings,
            self.config.tokenizer.encoding,
            self.config.analyst.identity(),
        ))
        .expect("settings serialize");
        let inputs = serde_json::to_vec(&self.inputs).expect("references serialize");
        let data = self.dataset.frame_reference().to_string();
        let memory = memory.join("\n");
        Reference::of_parts([
            b"step/v4".as_slice(),
            &def,
            &settings,
            &inputs,
            data.as_bytes(),
            memory.as_bytes(),
        ])
    }

    /// What of the step runs on this data: its calls, and notes on what does not.
    fn coverage(&self) -> StepCoverage {
        let coverage = self.flow.coverage(&|role| self.dataset.has(role));
        coverage.steps[self.index].clone()
    }

    pub(super) fn execute(&self) -> Outcome {
        let def = self.flow.step(self.index);
        let coverage = self.coverage();
        if coverage.skipped() {
            return Outcome::Unavailable(coverage.notes.join("; "));
        }
        // A forecast on too short a history says so before anything runs; the flow goes
        // on without it.
        if let Err(why) = self.feasible(&def.id) {
            return Outcome::Unavailable(format!("{} skipped: {why}", def.id));
        }
        let memory = self.recall();
        let memo = self.memo_reference(&memory);
        if let Some(output) = self.store.step_output(&memo) {
            self.remember(&output);
            self.emit(EngineEvent::CacheHit {
                run: self.run,
                step: def.id.clone(),
                tool: "step".into(),
                reference: memo,
            });
            return Outcome::Finished {
                reference: output.reference(),
                output,
                cached: true,
            };
        }
        let (records, own) = match self.run_tools(&coverage.calls) {
            Ok(done) => done,
            Err(outcome) => return outcome,
        };
        let mut notes = coverage.notes;
        if self.token.is_cancelled() {
            return Outcome::Cancelled;
        }
        let facts: Vec<Fact> = unique_by_key(own.iter().flat_map(|(_, o)| o.facts.iter()))
            .into_iter()
            .cloned()
            .collect();
        let route = match def
            .router
            .as_ref()
            .map(|r| r.choose_feasible(&facts, &|t| self.feasible(t)))
        {
            None => None,
            Some(Ok((route, fell_back))) => {
                notes.extend(fell_back.map(|why| format!("{}: {why}", def.id)));
                Some(route.to_string())
            }
            Some(Err(e)) => return Outcome::Failed(format!("router: {e}")),
        };
        let output = match self.answer(&own, facts, &memory) {
            Ok(answered) => StepOutput {
                tools: records,
                route,
                notes,
                ..answered
            },
            Err(outcome) => return outcome,
        };
        // Its answer was just written: the step is not "from the cache", whatever its tools
        // were (each tool record says that of itself).
        let cached = false;
        let output = Arc::new(output);
        let reference = output.reference();
        self.store.put(reference, StoredValue::StepOutput(output.clone()));
        self.store.put_alias(memo, reference);
        self.remember(&output);
        Outcome::Finished {
            output,
            reference,
            cached,
        }
    }

    /// Whether step `target` can run on this data's history: each of its calls feasible on
    /// the months the data covers (counted only when a call has a minimum).
    fn feasible(&self, target: &str) -> Result<(), String> {
        let Some(i) = self.flow.index_of(target) else {
            return Ok(());
        };
        for call in &self.flow.step(i).tools {
            if let ToolCall::Forecast { .. } = call {
                let months = crate::tools::timeseries::series(self.rows(call), crate::tools::Period::Month)
                    .map(|s| s.len())
                    .unwrap_or(0);
                call.feasible(months)?;
            }
        }
        Ok(())
    }

    /// Runs `calls` (the step's, as the data allows) in order, each from the memo when it
    /// can be; their records and outputs by reference.
    fn run_tools(&self, calls: &[ToolCall]) -> Result<(Vec<ToolRecord>, Vec<OwnOutput>), Outcome> {
        let def = self.flow.step(self.index);
        let mut records = Vec::new();
        let mut own = Vec::new();
        for (k, call) in calls.iter().enumerate() {
            if self.token.is_cancelled() {
                return Err(Outcome::Cancelled);
            }
            let label = call.label();
            self.emit(EngineEvent::StepProgress {
                run: self.run,
                step: def.id.clone(),
                message: format!("{label} ({}/{})", k + 1, calls.len()),
            });
            let key = call.memo_reference(&self.dataset.frame_reference());
            let (output, cached) = match self.store.tool_output(&key).filter(|_| call.cacheable()) {
                Some(hit) => {
                    self.emit(EngineEvent::CacheHit {
                        run: self.run,
                        step: def.id.clone(),
                        tool: label.clone(),
                        reference: key,
                    });
                    (hit, true)
                }
                None => {
                    let mut out = call
                        .run_on(self.rows(call))
                        .map_err(|e| Outcome::Failed(e.to_string()))?;
                    // Facts name dimensions as the file does (`Top Retailer by profit`).
                    let words = self.dataset.dimension_words();
                    for fact in &mut out.facts {
                        fact.statement = crate::tools::in_the_files_words(&fact.statement, &words);
                    }
                    let out = Arc::new(out);
                    self.store.put(key, StoredValue::ToolOutput(out.clone()));
                    (out, false)
                }
            };
            own.push((key, output));
            records.push(ToolRecord {
                label,
                output_ref: key,
                cached,
            });
        }
        Ok((records, own))
    }

    /// Builds the step's context from its tool outputs, earlier steps and memory, fits it
    /// to the budget, and has the analyst answer from what is in it. The output it returns
    /// has no tool records or route yet.
    fn answer(&self, own: &[OwnOutput], facts: Vec<Fact>, memory: &[String]) -> Result<StepOutput, Outcome> {
        let def = self.flow.step(self.index);
        let upstream: Vec<(&str, Reference, Arc<StepOutput>)> = self
            .inputs
            .iter()
            .filter_map(|(id, r)| self.store.step_output(r).map(|o| (id.as_str(), *r, o)))
            .collect();
        let upstream_view: Vec<Upstream<'_>> = upstream
            .iter()
            .map(|(id, r, o)| Upstream {
                step: id,
                ..o.as_upstream(*r)
            })
            .collect();
        let tokenizer = &self.config.tokenizer;
        let inputs = ContextInputs {
            step: def,
            dataset: &self.dataset,
            own,
            upstream: &upstream_view,
            memory,
        };
        let bundle = context::build(&inputs, tokenizer);
        let pruned = context::prune(&bundle, &self.settings, &def.task, tokenizer)
            .map_err(|e| Outcome::Failed(format!("context: {e}")))?;
        // The analyst sees, and the ledger credits, only the facts the prompt carries.
        let visible =
            |fs: &[Fact]| -> Vec<Fact> { fs.iter().filter(|f| pruned.facts.contains(&f.key)).cloned().collect() };
        let own_visible = visible(&facts);
        let upstream_visible: Vec<(&str, Vec<Fact>)> =
            upstream.iter().map(|(id, _, o)| (*id, visible(&o.facts))).collect();
        if let Some(why) = crate::llm::window_problem(self.config.analyst.as_ref(), pruned.tokens, tokenizer.encoding) {
            return Err(Outcome::Failed(format!(
                "llm: {why}; lower the step's budget or [llm] max_tokens, or use a model with a larger window"
            )));
        }
        let request = AnswerRequest {
            flow: self.flow.name(),
            step: def,
            is_final: self.is_final,
            messages: pruned.messages(),
            stable: pruned.stable(),
            own_facts: &own_visible,
            upstream: upstream_visible.iter().map(|(id, f)| (*id, f.as_slice())).collect(),
        };
        // The facts the answer must carry: the step's own critical ones its prompt held;
        // for the report, every critical one its prompt held.
        let expected: Vec<&Fact> = own_visible
            .iter()
            .chain(
                upstream_visible
                    .iter()
                    .filter(|_| self.is_final)
                    .flat_map(|(_, f)| f.iter()),
            )
            .filter(|f| f.priority == crate::settings::Priority::Critical)
            .collect();
        let expected = unique_by_key(expected);
        let ground: Vec<&Fact> = facts
            .iter()
            .chain(upstream.iter().flat_map(|(_, _, o)| o.facts.iter()))
            .collect();
        let given = fact_check::ground(&pruned.prompt, upstream.iter().map(|(_, _, o)| o.answer.as_str()));
        let judge = |text: &str| AnswerCheck::of(text, &expected, &given, &ground, self.is_final);
        let answer = self.ask(&request)?;
        let check = judge(&answer.text);
        let (answer, check) = match self.config.answer_policy {
            AnswerPolicy::CompleteReport if self.is_final && !check.missing.is_empty() => {
                self.complete_report(&request, answer, &check, &expected, &judge)?
            }
            AnswerPolicy::Retry if check.flagged => self.retry(&request, answer, check, &expected, &judge)?,
            _ => (answer, check),
        };
        let answer_facts: Vec<String> = own_visible
            .iter()
            .chain(upstream_visible.iter().flat_map(|(_, f)| f.iter()))
            .filter(|f| fact_check::carries(&answer.text, f))
            .map(|f| f.key.clone())
            .collect();
        let completion_tokens = tokenizer.count(&answer.text);
        Ok(StepOutput {
            step: def.id.clone(),
            tools: Vec::new(),
            facts,
            answer: answer.text,
            answer_facts,
            route: None,
            analyst: self.config.analyst.identity(),
            reported: answer.reported,
            context: StepContext {
                encoding: tokenizer.encoding,
                bundle,
                pruned,
                completion_tokens,
            },
            check,
            notes: Vec::new(),
        })
    }
}

/// How an answer is judged against its step's facts.
type Judge<'a> = dyn Fn(&str) -> AnswerCheck + 'a;

impl StepJob {
    /// The analyst's answer to `request`, its text streamed to the step as it arrives.
    fn ask(&self, request: &AnswerRequest<'_>) -> Result<Answer, Outcome> {
        let mut on_text = |text: &str| {
            self.emit(EngineEvent::AnswerDelta {
                run: self.run,
                step: request.step.id.clone(),
                text: text.to_string(),
            })
        };
        match self.config.analyst.answer(request, &mut on_text, &self.token) {
            Ok(a) => Ok(a),
            Err(LlmError::Cancelled) => Err(Outcome::Cancelled),
            Err(e) => Err(Outcome::Failed(format!("llm: {e}"))),
        }
    }

    /// Asks again with the step's persona and `user`, saying `why` on the step; the answer
    /// and the tokens of the prompt sent.
    fn ask_again(&self, request: &AnswerRequest<'_>, user: &str, why: String) -> Result<(Answer, usize), Outcome> {
        let messages = crate::context::Messages {
            system: request.messages.system,
            user,
        };
        // The breakpoint stays only where the new prompt keeps the stable prefix.
        let kept = request
            .messages
            .prompt()
            .get(..request.stable.bytes)
            .map(str::to_string);
        let stable = match kept {
            Some(prefix) if messages.prompt().starts_with(&prefix) => request.stable,
            _ => crate::context::StablePrefix::default(),
        };
        let again = AnswerRequest {
            messages,
            stable,
            ..request.clone()
        };
        self.emit(EngineEvent::StepProgress {
            run: self.run,
            step: request.step.id.clone(),
            message: why,
        });
        let tokens = self.config.tokenizer.count(&again.messages.prompt());
        Ok((self.ask(&again)?, tokens))
    }

    /// `complete_report`: one short call given only the report's missing figures writes its
    /// "Key figures" section, appended to the report.
    fn complete_report(
        &self,
        request: &AnswerRequest<'_>,
        answer: Answer,
        check: &AnswerCheck,
        expected: &[&Fact],
        judge: &Judge<'_>,
    ) -> Result<(Answer, AnswerCheck), Outcome> {
        let missing = expected.iter().copied().filter(|f| check.missing.contains(&f.key));
        let user = format!(
            "## key_figures\n{}\n\n## task\nThe report above left out these key figures. Write its \
             \"Key figures\" section: one bullet per figure, stating it exactly as given with what it measures. \
             Use no other figures.",
            crate::tools::fact_list(missing)
        );
        let why = format!("report lacks {} critical figures; asking for them", check.missing.len());
        let (section, tokens) = self.ask_again(request, &user, why)?;
        let text = format!("{}\n\n{}\n", answer.text.trim_end(), section.text.trim());
        let check = AnswerCheck {
            retried: true,
            retry_prompt_tokens: tokens,
            ..judge(&text)
        };
        let reported = answer.reported.zip(section.reported).map(|(a, b)| a.plus(b));
        Ok((Answer { text, reported }, check))
    }

    /// `retry`: the whole prompt again with a note naming what was wrong; the better of the
    /// two answers is kept.
    fn retry(
        &self,
        request: &AnswerRequest<'_>,
        first: Answer,
        check: AnswerCheck,
        expected: &[&Fact],
        judge: &Judge<'_>,
    ) -> Result<(Answer, AnswerCheck), Outcome> {
        let user = format!("{}\n\n{}", request.messages.user, correction(&check, expected));
        let why = format!("answer flagged ({}); asking once more", check.summary());
        let (second, tokens) = self.ask_again(request, &user, why)?;
        let second_check = judge(&second.text);
        let better = second_check.score() >= check.score();
        let (kept, dropped, kept_check) = if better {
            (second, first, second_check)
        } else {
            (first, second, check)
        };
        let check = AnswerCheck {
            retried: true,
            retry_prompt_tokens: tokens,
            retry_completion_tokens: self.config.tokenizer.count(&dropped.text),
            ..kept_check
        };
        let reported = kept.reported.zip(dropped.reported).map(|(a, b)| a.plus(b));
        Ok((
            Answer {
                text: kept.text,
                reported,
            },
            check,
        ))
    }
}

/// The note a flagged answer is asked again with: what was wrong, and the exact figures.
fn correction(check: &AnswerCheck, expected: &[&Fact]) -> String {
    let mut note = String::from("## Check of your previous answer\n");
    let missing: Vec<&Fact> = expected
        .iter()
        .copied()
        .filter(|f| check.missing.contains(&f.key))
        .collect();
    if !check.unsupported.is_empty() {
        note.push_str(&format!(
            "It stated figures that are not in the data: {}. Do not use them.\n",
            check.unsupported.join(", ")
        ));
    }
    if !missing.is_empty() {
        note.push_str("It left out these exact figures; state each with what it measures:\n");
        note.push_str(&crate::tools::fact_list(missing));
        note.push('\n');
    }
    note.push_str("Write the whole answer again, using only the figures above exactly as given.");
    note
}
