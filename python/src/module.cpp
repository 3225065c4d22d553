// framebus._framebus: the Python binding (issue 11). A thin translation between
// the bus's objects and numpy's; the one thing it adds is the lifetime link:
//
//   numpy array --base--> _View (one per array, counts exports)
//                           --shared_ptr--> FrameState (owns the Lease)
//                                             --shared_ptr--> ReaderCore (owns the Reader)
//
// so a view can never outlive its lease (the cautionary tale: iceoryx2's first
// Python binding wrapped a raw address with no link to its sample). Without a
// base, pybind11 would copy; with one, numpy keeps the base alive, and views of
// views collapse their base to ours. release() while views exist raises
// BufferError, as mmap.close() and SharedMemory.close() do.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "framebus/inspect.hpp"
#include "framebus/opencv.hpp"
#include "framebus/reader.hpp"
#include "framebus/stamp.hpp"
#include "framebus/writer.hpp"
#include "segment_json.hpp"

namespace py = pybind11;
namespace fb = framebus;

namespace {

// ---- errors ---------------------------------------------------------------

// Exception types made at import (module lifetime: deliberately never freed).
PyObject* g_error = nullptr;             // framebus.Error
PyObject* g_corrupt_segment = nullptr;   // framebus.CorruptSegment(Error)
PyObject* g_too_many_readers = nullptr;  // framebus.TooManyReaders(Error)

PyObject* python_type_of(fb::Errc code) {
    switch (code) {
        case fb::Errc::not_found:
            return PyExc_FileNotFoundError;
        case fb::Errc::permission_denied:
            return PyExc_PermissionError;
        case fb::Errc::not_framebus:
        case fb::Errc::corrupt:
        case fb::Errc::version_mismatch:
            return g_corrupt_segment;
        case fb::Errc::invalid_argument:
        case fb::Errc::invalid_name:
            return PyExc_ValueError;
        case fb::Errc::live_writer:
            return PyExc_FileExistsError;
        case fb::Errc::no_space:
        case fb::Errc::system:
            return PyExc_OSError;
        case fb::Errc::timed_out:
            return PyExc_TimeoutError;
        case fb::Errc::too_many_readers:
            return g_too_many_readers;
        default:
            return g_error;
    }
}

[[noreturn]] void raise(const fb::Error& error) {
    PyErr_SetString(python_type_of(error.code), error.message.c_str());
    throw py::error_already_set();
}

[[noreturn]] void raise_buffer_error(const std::string& message) {
    PyErr_SetString(PyExc_BufferError, message.c_str());
    throw py::error_already_set();
}

template <class T>
T unwrap(fb::Result<T>&& result) {
    if (!result) raise(result.error());
    return std::move(result).value();
}

// WaitStatus as Python spells it (framebus.WaitStatus values).
const char* python_name(fb::WaitStatus status) {
    switch (status) {
        case fb::WaitStatus::frame:
            return "frame";
        case fb::WaitStatus::timed_out:
            return "timed_out";
        case fb::WaitStatus::end_of_stream:
            return "end_of_stream";
        case fb::WaitStatus::writer_gone:
            return "writer_gone";
        case fb::WaitStatus::replaced:
            return "replaced";
        case fb::WaitStatus::followed:
            return "followed";
    }
    return "unknown";
}

std::chrono::nanoseconds to_ns(double seconds) {
    if (!(seconds >= 0)) throw py::value_error("timeout must be >= 0 seconds");
    return std::chrono::nanoseconds(static_cast<std::int64_t>(std::min(seconds, 1e9) * 1e9));
}

// ---- frame descriptions as numpy shapes -------------------------------------

struct ArraySpec {
    py::dtype dtype;
    std::vector<py::ssize_t> shape;
    std::vector<py::ssize_t> strides;
};

py::dtype dtype_of_depth(int depth) {
    switch (depth) {
        case 0:
            return py::dtype::of<std::uint8_t>();
        case 1:
            return py::dtype::of<std::int8_t>();
        case 2:
            return py::dtype::of<std::uint16_t>();
        case 3:
            return py::dtype::of<std::int16_t>();
        case 4:
            return py::dtype::of<std::int32_t>();
        case 5:
            return py::dtype::of<float>();
        case 6:
            return py::dtype::of<double>();
        default:
            return py::dtype("float16");
    }
}

// OpenCV's type code (depth | (channels - 1) << 3) as numpy sees a Mat:
// rows x cols (x channels when more than one).
ArraySpec spec_of(std::uint32_t rows, std::uint32_t cols, std::int32_t cv_type,
                  std::uint64_t row_stride) {
    const int depth = cv_type & 7;
    const auto channels = static_cast<py::ssize_t>(((cv_type >> 3) & 511) + 1);
    ArraySpec spec{dtype_of_depth(depth), {}, {}};
    const auto item = static_cast<py::ssize_t>(spec.dtype.itemsize());
    spec.shape = {static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(cols)};
    spec.strides = {static_cast<py::ssize_t>(row_stride), item * channels};
    if (channels > 1) {
        spec.shape.push_back(channels);
        spec.strides.push_back(item);
    }
    return spec;
}

// The whole frame as OpenCV lays it out (I420/NV12: one CV_8UC1 array of
// height * 3 / 2 rows; YUYV: CV_8UC2), if its planes are laid out that way.
std::optional<ArraySpec> whole_spec_of(const fb::FrameFormat& f) {
    if (!f.opencv_layout()) return std::nullopt;
    const bool yuv420 =
        f.pixel_format == fb::PixelFormat::i420 || f.pixel_format == fb::PixelFormat::nv12;
    return spec_of(yuv420 ? f.height / 2 * 3 : f.height, f.width, f.cv_type, f.stride());
}

// One plane: Y, U, V (I420), Y, UV (NV12), or the only plane of a packed format.
ArraySpec plane_spec_of(const fb::FrameFormat& f, std::uint32_t p) {
    if (f.pixel_format == fb::PixelFormat::unknown)
        return spec_of(f.height, f.width, f.cv_type, f.stride());
    const fb::PixelFormatInfo& info = fb::format_info(f.pixel_format);
    const bool wide = f.pixel_format == fb::PixelFormat::gray16;
    const auto channels = static_cast<std::int32_t>(info.bytes_per_sample[p] / (wide ? 2 : 1));
    const std::int32_t cv_type = (wide ? 2 : 0) | ((channels - 1) << 3);
    return spec_of(static_cast<std::uint32_t>(f.plane_rows(p)), f.width >> info.x_shift[p], cv_type,
                   f.planes[p].stride);
}

ArraySpec whole_or_raise(const fb::FrameFormat& f) {
    auto spec = whole_spec_of(f);
    if (!spec) throw py::value_error("the planes are not in OpenCV's layout: use .planes");
    return *spec;
}

// ---- reader side -----------------------------------------------------------

struct FrameState;

// The Reader and what serialises calls on it (its thread rule: one caller at
// a time, releasing leases included). Python threads hold the GIL, except the
// one blocked in wait(): that one holds `busy` instead.
struct ReaderCore {
    explicit ReaderCore(fb::Reader r) : reader(std::move(r)) {}

    std::recursive_mutex busy;
    std::optional<fb::Reader> reader;
    bool closed = false;
    // Leases dropped by another thread while `busy` was taken (by a wait()):
    // released by the holder of `busy` as soon as it is done.
    std::mutex pending_mutex;
    std::vector<fb::Lease> pending;
    std::vector<std::weak_ptr<FrameState>> in_place;  // frames holding a lease
    std::uint64_t copies = 0;                         // frames copied past the cap

    void drain_pending() {  // needs `busy`
        std::vector<fb::Lease> leases;
        {
            std::lock_guard lock(pending_mutex);
            leases.swap(pending);
        }
        for (auto& lease : leases) lease.release();
        forget_released();
    }
    void forget_released();  // needs `busy`
};

// Takes `busy` with the GIL held: at once if free; otherwise without the GIL,
// so the thread in wait() can take it back when its wait ends.
std::unique_lock<std::recursive_mutex> lock_core(ReaderCore& core) {
    std::unique_lock lock(core.busy, std::try_to_lock);
    if (!lock) {
        py::gil_scoped_release nogil;
        lock.lock();
    }
    return lock;
}

// One frame: a lease on a slot, or (past the lease cap) a copy of it.
struct FrameState {
    std::shared_ptr<ReaderCore> core;
    std::optional<fb::Lease> lease;
    std::unique_ptr<std::byte[]> copy;
    fb::FrameInfo info{};
    const std::byte* data = nullptr;
    std::size_t exports = 0;  // live _View objects (numpy arrays over `data`)
    bool released = false;

    ~FrameState() { give_back(); }

    // Never blocks: if another thread is inside a call on the reader, the
    // lease is queued for it to release.
    void give_back() {
        if (!lease) return;
        std::unique_lock lock(core->busy, std::try_to_lock);
        if (lock) {
            lease->release();
            lease.reset();
            core->forget_released();
        } else {
            std::lock_guard pending_lock(core->pending_mutex);
            core->pending.push_back(std::move(*lease));
            lease.reset();
        }
    }

    // Copies the frame out of its slot and gives the lease back (needs `busy`,
    // no views: their memory is the slot's).
    void detach() {
        const auto bytes = static_cast<std::size_t>(info.format.bytes());
        copy = std::make_unique_for_overwrite<std::byte[]>(bytes);
        std::memcpy(copy.get(), data, bytes);
        data = copy.get();
        lease->release();
        lease.reset();
    }
};

// Frames that no longer hold a lease (gone, released or copied out).
void ReaderCore::forget_released() {
    std::erase_if(in_place, [](const std::weak_ptr<FrameState>& weak) {
        auto frame = weak.lock();
        return !frame || !frame->lease;
    });
}

// The base object of every array over a frame or a slot being written.
template <class State>
struct View {
    explicit View(std::shared_ptr<State> s) : state(std::move(s)) { ++state->exports; }
    ~View() { --state->exports; }
    View(const View&) = delete;
    View& operator=(const View&) = delete;
    std::shared_ptr<State> state;
};
using FrameView = View<FrameState>;

py::array view_array(const ArraySpec& spec, const std::byte* data, py::object base, bool writable) {
    py::array array(spec.dtype, spec.shape, spec.strides, data, base);
    if (!writable)
        py::detail::array_proxy(array.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
    return array;
}

class Frame {
  public:
    explicit Frame(std::shared_ptr<FrameState> state) : state_(std::move(state)) {}

    py::array array() const {
        check_usable();
        auto base = py::cast(std::make_unique<FrameView>(state_));
        return view_array(whole_or_raise(state_->info.format), state_->data, base, false);
    }
    py::list planes() const {
        check_usable();
        py::list planes;
        const fb::FrameFormat& f = state_->info.format;
        for (std::uint32_t p = 0; p < f.plane_count; ++p) {
            auto base = py::cast(std::make_unique<FrameView>(state_));
            planes.append(
                view_array(plane_spec_of(f, p), state_->data + f.planes[p].offset, base, false));
        }
        return planes;
    }
    py::array to_bgr() const {
        check_usable();
        const fb::FrameFormat& f = state_->info.format;
        py::array_t<std::uint8_t> bgr({static_cast<py::ssize_t>(f.height),
                                       static_cast<py::ssize_t>(f.width), py::ssize_t{3}});
        cv::Mat into(static_cast<int>(f.height), static_cast<int>(f.width), CV_8UC3,
                     bgr.mutable_data());
        const FrameView in_use(state_);  // an export: no release or copy-out meanwhile
        const std::byte* data = state_->data;
        bool ok = false;
        {
            py::gil_scoped_release nogil;
            ok = fb::to_bgr(data, f, into);
        }
        if (!ok) throw py::value_error("cannot convert this frame's format to BGR");
        if (into.data != bgr.mutable_data())  // reallocated (cannot happen: same size and type)
            throw std::runtime_error("to_bgr reallocated its destination");
        return bgr;
    }
    // Exports that are still alive; release() refuses while this is not 0.
    std::size_t exports() const { return state_->exports; }

    void release() {
        if (state_->released) return;
        if (state_->exports > 0)
            raise_buffer_error("cannot release frame " + std::to_string(sequence()) + ": " +
                               std::to_string(state_->exports) +
                               " numpy array(s) still point into it (delete them first)");
        state_->released = true;
        state_->give_back();
        state_->copy.reset();
    }
    bool released() const { return state_->released; }
    bool in_place() const { return state_->lease.has_value(); }
    std::uint64_t sequence() const { return state_->info.sequence; }
    std::int64_t capture_ns() const { return state_->info.capture_ns; }
    std::int64_t publish_ns() const { return state_->info.publish_ns; }
    const fb::FrameFormat& format() const { return state_->info.format; }
    std::uint32_t slot() const { return state_->lease ? state_->lease->slot_index() : 0; }

    // The frame's bytes (for stamp checks and hashing) without a view.
    const std::shared_ptr<FrameState>& state() const { return state_; }
    void check_usable() const {
        if (state_->released) throw py::value_error("frame has been released");
    }

  private:
    std::shared_ptr<FrameState> state_;
};

std::uint32_t max_leases_of(const fb::Reader& reader) {
    return reader.max_leases();
}

class PyReader {
  public:
    PyReader(const std::string& name, double wait, bool follow) {
        fb::ReaderOptions options;
        options.follow = follow;
        options.wait_for_segment =
            std::chrono::duration_cast<std::chrono::milliseconds>(to_ns(wait));
        fb::Result<fb::Reader> opened = [&] {
            py::gil_scoped_release nogil;
            return fb::Reader::open(name, options);
        }();
        core_ = std::make_shared<ReaderCore>(unwrap(std::move(opened)));
    }

    std::optional<Frame> latest() { return take(false); }
    std::optional<Frame> next() { return take(true); }

    // Blocks without the GIL; wakes every 100 ms for signals (Ctrl-C).
    std::string wait(std::optional<double> timeout) {
        using clock = std::chrono::steady_clock;
        const auto deadline = timeout ? clock::now() + to_ns(*timeout) : clock::time_point::max();
        for (;;) {
            const auto now = clock::now();
            const auto slice =
                std::min<clock::duration>(deadline - now, std::chrono::milliseconds(100));
            fb::WaitStatus status;
            {
                py::gil_scoped_release nogil;
                std::lock_guard lock(core_->busy);
                status = open_reader().wait(std::max<clock::duration>(slice, {}));
                core_->drain_pending();
            }
            if (status != fb::WaitStatus::timed_out || clock::now() >= deadline)
                return python_name(status);
            if (PyErr_CheckSignals() != 0) throw py::error_already_set();
        }
    }

    bool follow() {
        auto lock = lock_core(*core_);
        core_->drain_pending();
        return unwrap(open_reader().follow());
    }

    void close() {
        auto lock = lock_core(*core_);
        if (core_->closed) return;
        core_->drain_pending();
        const fb::Reader& reader = *core_->reader;
        totals_ = Totals{reader.frames(), reader.skipped(), reader.last_sequence()};
        core_->closed = true;
        core_->reader->close();  // leases still out keep their slots
        core_->reader.reset();
        core_->forget_released();
    }
    // What a closed reader still answers: how its stream went.
    struct Totals {
        std::uint64_t frames = 0, skipped = 0, last_sequence = 0;
    };
    template <class F>
    std::uint64_t total(F f, std::uint64_t Totals::*field) {
        if (core_->closed) return totals_.*field;
        return get<std::uint64_t>(f);
    }
    bool closed() const { return core_->closed; }

    template <class T, class F>
    T get(F f) {
        auto lock = lock_core(*core_);
        return f(open_reader());
    }
    std::uint64_t copies() const { return core_->copies; }
    std::uint32_t leases_held() {
        auto lock = lock_core(*core_);
        core_->forget_released();
        return static_cast<std::uint32_t>(core_->in_place.size());
    }

  private:
    fb::Reader& open_reader() {
        if (core_->closed || !core_->reader) throw py::value_error("reader is closed");
        return *core_->reader;
    }

    // Frames without views move out of their slots (a copy each, counted).
    void detach_unexported() {
        for (auto& weak : core_->in_place)
            if (auto frame = weak.lock(); frame && frame->lease && frame->exports == 0) {
                frame->detach();
                ++core_->copies;
            }
        core_->forget_released();
    }

    std::optional<Frame> take(bool in_order) {
        auto lock = lock_core(*core_);
        fb::Reader& reader = open_reader();
        core_->drain_pending();
        // Frames in place: up to max_leases - 1, one lease kept to copy with
        // past that, so a reader holding every frame never blocks (guarantee 2).
        const std::uint32_t max_leases = max_leases_of(reader);
        const std::size_t cap = max_leases > 1 ? max_leases - 1 : 1;
        if (core_->in_place.size() >= cap) detach_unexported();
        const bool copy = core_->in_place.size() >= cap;
        if (copy && core_->in_place.size() >= max_leases)
            raise_buffer_error("all " + std::to_string(max_leases) +
                               " leases of this reader are held by live numpy arrays");
        auto result = in_order ? reader.next() : reader.latest();
        if (!result) {
            if (result.error().code == fb::Errc::no_frame) return std::nullopt;
            raise(result.error());
        }
        auto state = std::make_shared<FrameState>();
        state->core = core_;
        state->info = result->info();
        state->data = result->data();
        state->lease.emplace(std::move(*result));
        if (copy) {
            state->detach();
            ++core_->copies;
        } else {
            core_->in_place.push_back(state);
        }
        return Frame(std::move(state));
    }

    std::shared_ptr<ReaderCore> core_;
    Totals totals_;
};

// ---- writer side -----------------------------------------------------------

struct SlotState;

struct WriterCore {
    explicit WriterCore(fb::Writer w) : writer(std::move(w)) {}
    std::optional<fb::Writer> writer;
    std::weak_ptr<SlotState> open_slot;  // the slot being written, if any
};

struct SlotState {
    std::shared_ptr<WriterCore> core;
    std::optional<fb::WriteSlot> slot;
    std::size_t exports = 0;
    // Dropped without commit(): abandoned, never published half-written.
    ~SlotState() {
        if (slot) slot->abandon();
    }
};
using SlotView = View<SlotState>;

class PyWriteSlot {
  public:
    explicit PyWriteSlot(std::shared_ptr<SlotState> state) : state_(std::move(state)) {}

    py::array array() const {
        auto& slot = open_slot();
        auto base = py::cast(std::make_unique<SlotView>(state_));
        return view_array(whole_or_raise(slot.format()), slot.data(), base, true);
    }
    py::list planes() const {
        auto& slot = open_slot();
        py::list planes;
        const fb::FrameFormat& f = slot.format();
        for (std::uint32_t p = 0; p < f.plane_count; ++p) {
            auto base = py::cast(std::make_unique<SlotView>(state_));
            planes.append(view_array(plane_spec_of(f, p), slot.plane(p), base, true));
        }
        return planes;
    }
    std::size_t exports() const { return state_->exports; }

    void commit(std::optional<double> capture_time) {
        refuse_with_views("commit");
        std::int64_t capture_ns = 0;
        if (capture_time) capture_ns = static_cast<std::int64_t>(*capture_time * 1e9);
        open_slot().commit(capture_ns);
        state_->slot.reset();
    }
    void abandon(bool force = false) {
        if (!state_->slot) return;
        if (!force) refuse_with_views("abandon");
        state_->slot->abandon();
        state_->slot.reset();
    }
    bool open() const { return state_->slot.has_value(); }
    std::uint64_t sequence() const { return open_slot().sequence(); }
    std::uint32_t slot_index() const { return open_slot().slot_index(); }
    std::uint64_t capacity() const { return open_slot().capacity(); }
    const fb::FrameFormat& format() const { return open_slot().format(); }
    const std::shared_ptr<SlotState>& state() const { return state_; }

    fb::WriteSlot& open_slot() const {
        if (!state_->slot) throw py::value_error("slot is already committed or abandoned");
        return *state_->slot;
    }

  private:
    // After commit the slot belongs to readers; a view still writing there
    // would tear their frames.
    void refuse_with_views(const char* what) const {
        if (state_->exports > 0)
            raise_buffer_error(std::string("cannot ") + what +
                               " the slot: " + std::to_string(state_->exports) +
                               " numpy array(s) still point into it (delete them first)");
    }
    std::shared_ptr<SlotState> state_;
};

class PyWriter {
  public:
    PyWriter(const std::string& name, std::uint32_t width, std::uint32_t height,
             const std::string& format, std::uint32_t slots, std::uint32_t max_readers,
             std::uint32_t leases_per_reader, std::uint32_t mode, bool keep,
             std::uint64_t slot_capacity, bool reuse_newest) {
        fb::WriterOptions options;
        options.name = name;
        options.max_readers = max_readers;
        options.slots = slots;
        options.slot_capacity = slot_capacity;
        options.mode = mode;
        options.keep = keep;
        options.reuse_newest = reuse_newest;
        if (leases_per_reader != 0) options.leases_per_reader = leases_per_reader;
        format_ = format_of(width, height, format);
        options.initial_format = format_;
        core_ = std::make_shared<WriterCore>(unwrap(fb::Writer::create(options)));
    }

    static fb::FrameFormat format_of(std::uint32_t width, std::uint32_t height,
                                     const std::string& name) {
        auto pixel_format = fb::parse_pixel_format(name);
        if (!pixel_format || *pixel_format == fb::PixelFormat::unknown)
            throw py::value_error("unknown pixel format '" + name + "'");
        if (width == 0 || height == 0) throw py::value_error("width and height must be > 0");
        const std::uint32_t multiple = fb::format_info(*pixel_format).size_multiple;
        if (width % multiple != 0 || height % multiple != 0)
            throw py::value_error(name + " frames need a width and height that are multiples of " +
                                  std::to_string(multiple));
        return fb::FrameFormat::packed(width, height, *pixel_format);
    }

    PyWriteSlot acquire(std::optional<std::uint32_t> width, std::optional<std::uint32_t> height,
                        std::optional<std::string> format) {
        fb::Writer& writer = open_writer();
        if (auto previous = core_->open_slot.lock(); previous && previous->slot)
            raise_buffer_error("the previous slot is still open: commit or abandon it first");
        if (width || height || format)
            format_ = format_of(width.value_or(format_.width), height.value_or(format_.height),
                                format.value_or(fb::to_string(format_.pixel_format)));
        auto state = std::make_shared<SlotState>();
        state->core = core_;
        state->slot.emplace(unwrap(writer.acquire(format_)));
        core_->open_slot = state;
        return PyWriteSlot(std::move(state));
    }

    void end_of_stream() { open_writer().end_of_stream(); }

    void close() {
        if (!core_->writer) return;
        if (auto slot = core_->open_slot.lock(); slot && slot->slot) {
            if (slot->exports > 0)
                raise_buffer_error(
                    "cannot close the writer: numpy array(s) still point into an open slot");
            slot->slot->abandon();
            slot->slot.reset();
        }
        core_->writer->close();
        core_->writer.reset();
    }
    bool closed() const { return !core_->writer; }

    fb::Writer& open_writer() const {
        if (!core_->writer) throw py::value_error("writer is closed");
        return *core_->writer;
    }
    const fb::FrameFormat& frame_format() const { return format_; }

  private:
    std::shared_ptr<WriterCore> core_;
    fb::FrameFormat format_{};
};

// ---- module ------------------------------------------------------------------

py::dict format_dict(const fb::FrameFormat& f) {
    py::dict d;
    d["width"] = f.width;
    d["height"] = f.height;
    d["format"] = fb::to_string(f.pixel_format);
    d["cv_type"] = f.cv_type;
    d["stride"] = f.stride();
    py::list planes;
    for (std::uint32_t p = 0; p < f.plane_count; ++p)
        planes.append(py::dict(py::arg("offset") = f.planes[p].offset,
                               py::arg("stride") = f.planes[p].stride));
    d["planes"] = planes;
    d["bytes"] = f.bytes();
    return d;
}

py::tuple check_stamp_of(const std::byte* data, const fb::FrameFormat& format) {
    const fb::StampResult result = fb::check_stamp(data, format);
    const char* check = result.check == fb::StampCheck::ok         ? "ok"
                        : result.check == fb::StampCheck::no_stamp ? "no_stamp"
                                                                   : "bad_checksum";
    return py::make_tuple(check, result.number);
}

}  // namespace

PYBIND11_MODULE(_framebus, m) {
    m.doc() = "framebus: zero-copy shared-memory frames as numpy arrays";
    g_error =
        PyErr_NewExceptionWithDoc("framebus.Error", "A framebus error.", PyExc_Exception, nullptr);
    g_corrupt_segment = PyErr_NewExceptionWithDoc(
        "framebus.CorruptSegment",
        "The name holds something that is not a valid framebus segment of this version.", g_error,
        nullptr);
    g_too_many_readers = PyErr_NewExceptionWithDoc(
        "framebus.TooManyReaders", "Every reader entry of the segment is taken.", g_error, nullptr);
    m.attr("Error") = py::handle(g_error);
    m.attr("CorruptSegment") = py::handle(g_corrupt_segment);
    m.attr("TooManyReaders") = py::handle(g_too_many_readers);

    py::class_<FrameView>(m, "_FrameView");
    py::class_<SlotView>(m, "_SlotView");

    py::class_<Frame>(m, "Frame")
        .def_property_readonly("array", &Frame::array,
                               "Read-only numpy view of the frame in place (a copy past the "
                               "reader's lease cap); keeps the frame alive")
        .def_property_readonly("planes", &Frame::planes,
                               "Read-only numpy views of each plane (Y, U, V / Y, UV / the one)")
        .def("to_bgr", &Frame::to_bgr, "A new BGR array of the frame (display, snapshots)")
        .def_property_readonly("exports", &Frame::exports)
        .def("release", &Frame::release,
             "Give the slot back now. BufferError while numpy arrays point into it.")
        .def_property_readonly("released", &Frame::released)
        .def_property_readonly("in_place", &Frame::in_place,
                               "True while the frame is a lease on its slot, False for a copy")
        .def_property_readonly("sequence", &Frame::sequence)
        .def_property_readonly("capture_ns", &Frame::capture_ns)
        .def_property_readonly("publish_ns", &Frame::publish_ns)
        .def_property_readonly("slot", &Frame::slot)
        .def_property_readonly("width", [](const Frame& f) { return f.format().width; })
        .def_property_readonly("height", [](const Frame& f) { return f.format().height; })
        .def_property_readonly(
            "format", [](const Frame& f) { return fb::to_string(f.format().pixel_format); })
        .def_property_readonly("description",
                               [](const Frame& f) { return format_dict(f.format()); })
        .def("check_stamp", [](const Frame& f) {
            f.check_usable();
            return check_stamp_of(f.state()->data, f.format());
        });

    py::class_<PyReader>(m, "_Reader")
        .def(py::init<const std::string&, double, bool>(), py::arg("name"), py::arg("wait") = 0.0,
             py::arg("follow") = false)
        .def("latest", &PyReader::latest)
        .def("next", &PyReader::next)
        .def("wait", &PyReader::wait, py::arg("timeout") = py::none())
        .def("follow", &PyReader::follow)
        .def("close", &PyReader::close)
        .def_property_readonly("closed", &PyReader::closed)
        .def_property_readonly("copies", &PyReader::copies)
        .def_property_readonly("leases_held", &PyReader::leases_held)
        .def_property_readonly(
            "max_leases",
            [](PyReader& r) {
                return r.get<std::uint32_t>([](fb::Reader& x) { return max_leases_of(x); });
            })
        .def_property_readonly("frames",
                               [](PyReader& r) {
                                   return r.total([](fb::Reader& x) { return x.frames(); },
                                                  &PyReader::Totals::frames);
                               })
        .def_property_readonly("skipped",
                               [](PyReader& r) {
                                   return r.total([](fb::Reader& x) { return x.skipped(); },
                                                  &PyReader::Totals::skipped);
                               })
        .def_property_readonly("last_sequence",
                               [](PyReader& r) {
                                   return r.total([](fb::Reader& x) { return x.last_sequence(); },
                                                  &PyReader::Totals::last_sequence);
                               })
        .def_property_readonly(
            "latest_sequence",
            [](PyReader& r) {
                return r.get<std::uint64_t>([](fb::Reader& x) { return x.latest_sequence(); });
            })
        .def_property_readonly(
            "writer_restarts",
            [](PyReader& r) {
                return r.get<std::uint64_t>([](fb::Reader& x) { return x.writer_restarts(); });
            })
        .def_property_readonly(
            "follows",
            [](PyReader& r) {
                return r.get<std::uint64_t>([](fb::Reader& x) { return x.follows(); });
            })
        .def_property_readonly(
            "writer_pid",
            [](PyReader& r) {
                return r.get<std::uint32_t>([](fb::Reader& x) { return x.writer_pid(); });
            })
        .def_property_readonly(
            "writer_alive",
            [](PyReader& r) { return r.get<bool>([](fb::Reader& x) { return x.writer_alive(); }); })
        .def_property_readonly(
            "status",
            [](PyReader& r) {
                return r.get<std::string>([](fb::Reader& x) { return python_name(x.status()); });
            })
        .def_property_readonly("name", [](PyReader& r) {
            return r.get<std::string>([](fb::Reader& x) { return x.name(); });
        });

    py::class_<PyWriteSlot>(m, "WriteSlot")
        .def_property_readonly("array", &PyWriteSlot::array,
                               "Writable numpy view of the slot; keeps the slot alive")
        .def_property_readonly("planes", &PyWriteSlot::planes)
        .def_property_readonly("exports", &PyWriteSlot::exports)
        .def("commit", &PyWriteSlot::commit, py::arg("capture_time") = py::none(),
             "Publish the frame. BufferError while numpy arrays point into the slot.")
        .def("abandon", &PyWriteSlot::abandon, py::arg("force") = false)
        .def_property_readonly("open", &PyWriteSlot::open)
        .def_property_readonly("sequence", &PyWriteSlot::sequence)
        .def_property_readonly("slot", &PyWriteSlot::slot_index)
        .def_property_readonly("capacity", &PyWriteSlot::capacity)
        .def_property_readonly("width", [](const PyWriteSlot& s) { return s.format().width; })
        .def_property_readonly("height", [](const PyWriteSlot& s) { return s.format().height; })
        .def_property_readonly(
            "format", [](const PyWriteSlot& s) { return fb::to_string(s.format().pixel_format); })
        .def("stamp",
             [](const PyWriteSlot& s, std::uint64_t number) {
                 return fb::stamp_frame(s.open_slot().data(), s.format(), number);
             })
        .def("__enter__", [](py::object self) { return self; })
        .def("__exit__", [](PyWriteSlot& s, py::object type, py::object, py::object) {
            if (!s.open()) return false;
            if (type.is_none())
                s.commit(std::nullopt);
            else
                s.abandon(true);  // do not mask the exception with a BufferError
            return false;
        });

    py::class_<PyWriter>(m, "_Writer")
        .def(py::init<const std::string&, std::uint32_t, std::uint32_t, const std::string&,
                      std::uint32_t, std::uint32_t, std::uint32_t, std::uint32_t, bool,
                      std::uint64_t, bool>(),
             py::arg("name"), py::arg("width"), py::arg("height"), py::arg("format") = "bgr24",
             py::arg("slots") = 0, py::arg("max_readers") = 8, py::arg("leases_per_reader") = 0,
             py::arg("mode") = 0600, py::arg("keep") = false, py::arg("slot_capacity") = 0,
             py::arg("reuse_newest") = false)
        .def("acquire", &PyWriter::acquire, py::arg("width") = py::none(),
             py::arg("height") = py::none(), py::arg("format") = py::none())
        .def("end_of_stream", &PyWriter::end_of_stream)
        .def("close", &PyWriter::close)
        .def_property_readonly("closed", &PyWriter::closed)
        .def_property_readonly("name", [](const PyWriter& w) { return w.open_writer().name(); })
        .def_property_readonly("slot_count",
                               [](const PyWriter& w) { return w.open_writer().slot_count(); })
        .def_property_readonly("slot_capacity",
                               [](const PyWriter& w) { return w.open_writer().slot_capacity(); })
        .def_property_readonly("max_readers",
                               [](const PyWriter& w) { return w.open_writer().max_readers(); })
        .def_property_readonly(
            "leases_per_reader",
            [](const PyWriter& w) { return w.open_writer().leases_per_reader(); })
        .def_property_readonly("readers_attached",
                               [](const PyWriter& w) { return w.open_writer().readers_attached(); })
        .def_property_readonly("stats", [](const PyWriter& w) {
            const fb::WriterStats s = w.open_writer().stats();
            py::dict d;
            d["published"] = s.published;
            d["dropped"] = s.dropped;
            d["replaced"] = s.replaced;
            d["reclaimed"] = s.reclaimed;
            d["newest_reused"] = s.newest_reused;
            return d;
        });

    m.def("pixel_formats", [] {
        std::vector<std::string> names;
        for (const fb::PixelFormatInfo& info : fb::pixel_formats()) names.emplace_back(info.name);
        return names;
    });
    m.def("segment_names", &fb::list_segments);

    // The CLI's documents (tools/JSON.md), from the library the CLI prints.
    m.def(
        "ls_json",
        [](double sample_seconds) {
            std::string text;
            {
                py::gil_scoped_release nogil;  // inspecting (and sampling) takes a while
                auto listed = fb::cli::list_and_inspect();
                fb::cli::sample_fps(listed, sample_seconds);
                text = fb::cli::to_text(fb::cli::ls_document(listed, sample_seconds));
            }
            return text;
        },
        py::arg("sample_seconds") = 0.0);
    m.def("info_json", [](const std::string& name) {
        auto view = [&] {
            py::gil_scoped_release nogil;
            return fb::inspect(name);
        }();
        const std::int64_t now = fb::now_ns();
        return fb::cli::to_text(fb::cli::info_document(unwrap(std::move(view)), now));
    });
}
